//! A client's memo of the last response head ([`HeadMemo`]): short responses are mostly head,
//! and the same head over and over.

use super::http::{BadResponse, Progress, ResponseParser};

/// Longest response head [`HeadMemo`] remembers.
pub const MEMO_MAX: usize = 256;

/// The last response head a client parsed and the parser state right after it: a server
/// answers every request with the same head (nginx changes only `Date:`, once a second), so a
/// response that starts with exactly those bytes takes the remembered state after one
/// comparison instead of the byte-by-byte walk (the head was most of the client's parsing
/// time at a million short connections a second). The parser is deterministic, so the outcome
/// is the one the walk would give. One per client, shared by its connections; no allocation.
#[derive(Debug, Clone)]
pub struct HeadMemo {
    head: [u8; MEMO_MAX],
    len: usize,
    after: ResponseParser,
}

impl Default for HeadMemo {
    fn default() -> Self {
        HeadMemo {
            head: [0; MEMO_MAX],
            len: 0,
            after: ResponseParser::new(),
        }
    }
}

impl HeadMemo {
    /// [`ResponseParser::feed`] on `p`, through the memo when `p` has not started yet.
    pub fn feed(
        &mut self,
        p: &mut ResponseParser,
        data: &[u8],
        on_body: impl FnMut(u64, &[u8]),
    ) -> Result<(usize, Progress), BadResponse> {
        if !p.is_fresh() {
            return p.feed(data, on_body);
        }
        let n = self.len;
        if n > 0 && data.len() >= n && data[..n] == self.head[..n] {
            *p = self.after;
            let (used, progress) = p.feed(&data[n..], on_body)?;
            return Ok((n + used, progress));
        }
        let r = p.feed(data, on_body)?;
        // Learn this head if it came whole in `data` (a head split over segments is walked).
        let h = p.head_len() as usize;
        if p.head_done() && h <= MEMO_MAX && h <= data.len() {
            let mut q = ResponseParser::new();
            if q.feed(&data[..h], |_, _| {}).is_ok() && q.head_done() {
                self.head[..h].copy_from_slice(&data[..h]);
                self.len = h;
                self.after = q;
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `r` whole through `m` into a fresh parser: (bytes used, done, status, body).
    fn run(m: &mut HeadMemo, r: &[u8]) -> (usize, bool, u16, Vec<u8>) {
        let mut p = ResponseParser::new();
        let mut body = Vec::new();
        let (n, prog) = m
            .feed(&mut p, r, |off, b| {
                assert_eq!(off as usize, body.len());
                body.extend_from_slice(b);
            })
            .unwrap();
        (n, prog == Progress::Done, p.status(), body)
    }

    #[test]
    fn a_remembered_head_gives_what_the_walk_gives() {
        let mut m = HeadMemo::default();
        let a = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhelloNEXT";
        let first = run(&mut m, a);
        assert_eq!(first, (a.len() - 4, true, 200, b"hello".to_vec()));
        assert_eq!(m.len, a.len() - 9, "learned the head");
        // Same head, other body bytes: through the memo, same outcome.
        let b = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nworld";
        assert_eq!(run(&mut m, b), (b.len(), true, 200, b"world".to_vec()));
        // Another head (another length): walked, and learned instead.
        let c = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
        assert_eq!(run(&mut m, c), (c.len(), true, 404, b"no".to_vec()));
        assert_eq!(m.len, c.len() - 2);
        // A head that only starts like the remembered one is walked.
        let d = b"HTTP/1.1 404 Not Found\r\nContent-Length: 20\r\n\r\n";
        assert_eq!(run(&mut m, d), (d.len(), false, 404, Vec::new()));
    }

    #[test]
    fn a_head_in_pieces_is_walked_and_a_started_parser_is_left_alone() {
        let mut m = HeadMemo::default();
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        let mut p = ResponseParser::new();
        let (n, _) = m.feed(&mut p, &r[..10], |_, _| {}).unwrap();
        assert_eq!((n, m.len), (10, 0));
        let mut body = Vec::new();
        let (n, prog) = m
            .feed(&mut p, &r[10..], |_, b| body.extend_from_slice(b))
            .unwrap();
        assert_eq!(
            (n, prog, body.as_slice()),
            (r.len() - 10, Progress::Done, &b"abc"[..])
        );
        assert_eq!(m.len, 0, "a head split over feeds is not learned");
        // Malformed input still fails through the memo.
        let mut p = ResponseParser::new();
        assert!(m.feed(&mut p, b"HTTP/1.1 200 OK\rX", |_, _| {}).is_err());
    }
}
