//! Resets in each state, challenge ACKs, PAWS; SACK generation (RFC 2018, the seed's example).

use super::*;

#[test]
fn reset_in_each_state() {
    // SYN-SENT: believed only with an acceptable ACK.
    let mut h = Harness::client(&cfg());
    h.output().unwrap();
    h.input(from_peer(0, None, Flags::RST, 0), &[]);
    assert_eq!(h.c.state(), State::SynSent);
    h.input(from_peer(0, Some(ISS + 1), Flags::RST | A, 0), &[]);
    assert_eq!(
        (h.c.state(), h.c.error()),
        (State::Closed, Some(ConnError::Refused))
    );
    assert!(h.c.take_events().contains(Events::CLOSED | Events::ERROR));

    // SYN-SENT: an unacceptable ACK draws a reset, the connection stays.
    let mut h = Harness::client(&cfg());
    h.output().unwrap();
    h.input(from_peer(IRS, Some(ISS + 77), SA, 100), &[]);
    h.expect(to_peer(ISS + 77, None, Flags::RST, 0, 0));
    assert_eq!(h.c.state(), State::SynSent);

    // Synchronized states: exact RCV.NXT resets, in-window draws a challenge ACK, outside is
    // dropped silently (RFC 5961 §3.2).
    for st in [
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
    ] {
        let mut h = established(&cfg(), false);
        match st {
            State::FinWait1 => {
                h.c.shutdown_write();
                h.output().unwrap();
            }
            State::FinWait2 => {
                h.c.shutdown_write();
                h.output().unwrap();
                peer_ack(&mut h, IRS + 1, ISS + 2, 64240);
            }
            State::CloseWait => {
                h.input(from_peer(IRS + 1, Some(ISS + 1), FA, 64240), &[]);
                h.output().unwrap();
                // The FIN took one sequence number.
            }
            _ => {}
        }
        assert_eq!(h.c.state(), st);
        let nxt = if st == State::CloseWait {
            IRS + 2
        } else {
            IRS + 1
        };
        // Our FIN took a sequence number in FIN-WAIT-1/2.
        let snd = if matches!(st, State::FinWait1 | State::FinWait2) {
            ISS + 2
        } else {
            ISS + 1
        };
        h.input(from_peer(nxt + 100_000, None, Flags::RST, 0), &[]);
        h.expect_none();
        h.input(from_peer(nxt + 100, None, Flags::RST, 0), &[]);
        let win = h.output().unwrap().0;
        assert_eq!(
            (win.flags, win.seq, win.ack()),
            (A, SeqNumber(snd), Some(SeqNumber(nxt)))
        );
        assert_eq!(h.c.stats().counters.challenge_acks, 1);
        assert_eq!(h.c.state(), st);
        h.input(from_peer(nxt, None, Flags::RST, 0), &[]);
        assert_eq!(
            (h.c.state(), h.c.error()),
            (State::Closed, Some(ConnError::Reset)),
            "{st:?}"
        );
        h.expect_none();
    }

    // LAST-ACK: closes without an error. TIME-WAIT: ignored (RFC 1337).
    let mut h = established(&cfg(), false);
    h.input(from_peer(IRS + 1, Some(ISS + 1), FA, 64240), &[]);
    h.c.close();
    h.drain();
    assert_eq!(h.c.state(), State::LastAck);
    h.input(from_peer(IRS + 2, None, Flags::RST, 0), &[]);
    assert_eq!((h.c.state(), h.c.error()), (State::Closed, None));

    // CLOSING: likewise.
    let mut h = established(&cfg(), false);
    h.c.shutdown_write();
    h.output().unwrap();
    h.input(from_peer(IRS + 1, Some(ISS + 1), FA, 64240), &[]);
    assert_eq!(h.c.state(), State::Closing);
    h.input(from_peer(IRS + 2, None, Flags::RST, 0), &[]);
    assert_eq!((h.c.state(), h.c.error()), (State::Closed, None));

    let mut h = established(&cfg(), false);
    h.c.shutdown_write();
    h.output().unwrap();
    h.input(from_peer(IRS + 1, Some(ISS + 2), FA, 64240), &[]);
    h.drain();
    assert_eq!(h.c.state(), State::TimeWait);
    h.input(from_peer(IRS + 2, None, Flags::RST, 0), &[]);
    assert_eq!(h.c.state(), State::TimeWait);
}

#[test]
fn syn_in_established_draws_a_challenge_ack() {
    let mut h = established(&cfg(), false);
    h.input(from_peer(IRS + 500, None, Flags::SYN, 64240), &[]);
    h.expect(to_peer(ISS + 1, Some(IRS + 1), A, 64240, 0));
    assert_eq!(h.c.state(), State::Established);
    // An ACK for data never sent: ACK and drop; an ACK far below SND.UNA: challenge ACK.
    peer_ack(&mut h, IRS + 1, ISS + 1000, 64240);
    h.expect(to_peer(ISS + 1, Some(IRS + 1), A, 64240, 0));
    assert_eq!(h.c.stats().counters.drop_bad_ack, 1);
    // Out-of-window data: ACK, nothing queued.
    h.input(from_peer(IRS + 200_000, Some(ISS + 1), A, 64240), b"x");
    h.expect(to_peer(ISS + 1, Some(IRS + 1), A, 64240, 0));
    assert_eq!(h.c.recv_queue(), 0);
}

#[test]
fn paws_drops_old_timestamps() {
    let cfg = TcpConfig {
        timestamps: Negotiate::Offer,
        ..cfg()
    };
    let mut h = Harness::client(&cfg);
    h.at(ms(1000));
    h.output().unwrap();
    let peer = Options::syn(1460, None, false, Some((5000, 1000)));
    h.input(
        with_opts(from_peer(IRS, Some(ISS + 1), SA, 64240), peer),
        &[],
    );
    h.output().unwrap();
    let ts = |v: u32| Options::ack(Some((v, 1000)), None);
    h.input(
        with_opts(from_peer(IRS + 1, Some(ISS + 1), A, 64240), ts(5010)),
        b"new",
    );
    assert_eq!(h.c.recv_queue(), 3);
    // An older timestamp: dropped and answered with an ACK.
    h.input(
        with_opts(from_peer(IRS + 4, Some(ISS + 1), A, 64240), ts(4000)),
        b"old",
    );
    assert_eq!(h.c.recv_queue(), 3);
    assert_eq!(h.c.stats().counters.drop_paws, 1);
    let (ack, _) = h.output().unwrap();
    assert_eq!(ack.ack(), Some(SeqNumber(IRS + 4)));
    assert_eq!(ack.options.timestamp(), Some((1000, 5010)));
    // No timestamp at all once negotiated: dropped silently.
    h.input(from_peer(IRS + 4, Some(ISS + 1), A, 64240), b"bare");
    assert_eq!(h.c.stats().counters.drop_no_timestamp, 1);
    h.expect_none();
    // After 24 idle days an old-looking timestamp is taken as the new TS.Recent (RFC 7323
    // §5.5).
    h.at(Nanos::from_secs(25 * 24 * 3600));
    h.input(
        with_opts(from_peer(IRS + 4, Some(ISS + 1), A, 64240), ts(3)),
        b"late",
    );
    assert_eq!(h.c.recv_queue(), 7);
}

// ---------------------------------------------------------------------------------------------
// SACK generation (RFC 2018, the seed's example)
// ---------------------------------------------------------------------------------------------

#[test]
fn sack_blocks_match_the_seed_example() {
    // Seed: "acknowledging all data up to sequence number 54857340, plus the data from
    // sequence number 54858789-54861684", with timestamps on (NOP NOP TS NOP NOP SACK).
    let irs = 54_857_340;
    let peer = Options::syn(1460, None, true, Some((100, 0)));
    let syn = with_opts(from_peer(irs, None, Flags::SYN, 65535), peer);
    let mut h = Harness::new(Connection::accept(&cfg(), params(ISS), ms(0), &syn));
    h.at(ms(1));
    h.output().unwrap();
    let ts = |v: u32| Options::ack(Some((v, 1)), None);
    h.input(
        with_opts(from_peer(irs + 1, Some(ISS + 1), A, 65535), ts(101)),
        &[],
    );
    assert_eq!(h.c.state(), State::Established);
    // The segment at 54857341 is lost; the next two arrive.
    h.input(
        with_opts(from_peer(54_858_789, Some(ISS + 1), A, 65535), ts(102)),
        &[0; 1448],
    );
    let first = Options::ack(
        Some((1, 101)),
        Some(SackBlocks::single(54_858_789, 54_860_237)),
    );
    h.expect(with_opts(
        to_peer(ISS + 1, Some(54_857_341), A, 63712, 0),
        first,
    ));
    h.input(
        with_opts(from_peer(54_860_237, Some(ISS + 1), A, 65535), ts(103)),
        &[0; 1448],
    );
    let seed = Options::ack(
        Some((1, 101)),
        Some(SackBlocks::single(54_858_789, 54_861_685)),
    );
    h.expect(with_opts(
        to_peer(ISS + 1, Some(54_857_341), A, 63712, 0),
        seed,
    ));
    // A later, separate block comes first (most recent first, RFC 2018 §4).
    h.input(
        with_opts(from_peer(54_863_133, Some(ISS + 1), A, 65535), ts(104)),
        &[0; 1448],
    );
    let blocks = SackBlocks::new(&[(54_863_133, 54_864_581), (54_858_789, 54_861_685)]).unwrap();
    let (r, _) = h.output().unwrap();
    assert_eq!(r.options.sack_blocks(), Some(blocks));
    // The hole fills: one cumulative ACK, still SACKing the block beyond the second hole.
    h.input(
        with_opts(from_peer(54_857_341, Some(ISS + 1), A, 65535), ts(105)),
        &[0; 1448],
    );
    let (r, _) = h.output().unwrap();
    assert_eq!(r.ack(), Some(SeqNumber(54_861_685)));
    assert_eq!(
        r.options.sack_blocks(),
        Some(SackBlocks::single(54_863_133, 54_864_581))
    );
    assert_eq!(h.c.recv_queue(), 3 * 1448);
    // A duplicate segment is reported with a D-SACK block (RFC 2883).
    h.input(
        with_opts(from_peer(54_857_341, Some(ISS + 1), A, 65535), ts(106)),
        &[0; 1448],
    );
    let (r, _) = h.output().unwrap();
    let d = r.options.sack_blocks().unwrap();
    assert_eq!(d.as_slice()[0], (54_857_341, 54_858_789));
}

#[test]
fn four_sack_blocks_without_timestamps() {
    let peer = Options::syn(1460, None, true, None);
    let syn = with_opts(from_peer(IRS, None, Flags::SYN, 65535), peer);
    let mut h = Harness::new(Connection::accept(&cfg(), params(ISS), ms(0), &syn));
    h.output().unwrap();
    peer_ack(&mut h, IRS + 1, ISS + 1, 65535);
    for k in 0..5u32 {
        h.input(
            from_peer(IRS + 1 + 200 * (k + 1), Some(ISS + 1), A, 65535),
            &[1; 100],
        );
    }
    let acks = h.drain();
    let last = acks.last().unwrap().0.options.sack_blocks().unwrap();
    assert_eq!(last.len(), 4);
    assert_eq!(last.as_slice()[0], (IRS + 1001, IRS + 1101));
}
