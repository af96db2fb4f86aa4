use anyhow::{bail, Result};
use burst_runtime::ctl::Request;

use super::*;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: CtlCommand,
}

fn req(line: &str) -> Result<Request> {
    let cli = Cli::try_parse_from(std::iter::once("ctl").chain(line.split_whitespace()))?;
    match cli.cmd {
        CtlCommand::Filter { args } => filter_request(&args),
        CtlCommand::Route { args } => route_request(&args),
        _ => bail!("not a filter or route command"),
    }
}

#[test]
fn filter_commands_parse() {
    assert_eq!(req("filter list").unwrap(), Request::FilterList);
    assert_eq!(
        req("filter add p0 in --dst 198.18.2.0/24 --proto tcp --dport 80 deny").unwrap(),
        Request::FilterAdd {
            port: "p0".into(),
            dir: "in".into(),
            rule: "--dst 198.18.2.0/24 --proto tcp --dport 80 deny".into(),
            index: None,
        }
    );
    assert_eq!(
        req("filter add p1 out --index 0 --sport 1000-2000 count").unwrap(),
        Request::FilterAdd {
            port: "p1".into(),
            dir: "out".into(),
            rule: "--sport 1000-2000 count".into(),
            index: Some(0),
        }
    );
    assert_eq!(
        req("filter add p0 in permit").unwrap(),
        Request::FilterAdd {
            port: "p0".into(),
            dir: "in".into(),
            rule: "permit".into(),
            index: None,
        }
    );
    assert_eq!(
        req("filter delete p0 out 3").unwrap(),
        Request::FilterDelete {
            port: "p0".into(),
            dir: "out".into(),
            index: 3,
        }
    );
    // Route parsing still works next to it.
    assert_eq!(req("route print").unwrap(), Request::RoutePrint);
}

#[test]
fn netstat_flags_parse() {
    let parse = |l: &str| {
        Cli::try_parse_from(std::iter::once("ctl").chain(l.split_whitespace()))
            .map(|c| c.cmd)
            .unwrap()
    };
    assert!(matches!(
        parse("netstat -an"),
        CtlCommand::Netstat {
            a: true,
            n: true,
            s: false,
            r: false
        }
    ));
    assert!(matches!(
        parse("netstat -a"),
        CtlCommand::Netstat { a: true, .. }
    ));
    assert!(matches!(
        parse("netstat -s"),
        CtlCommand::Netstat { s: true, .. }
    ));
}

#[test]
fn filter_usage_errors() {
    let e = |l: &str| format!("{:#}", req(l).unwrap_err());
    let m = e("filter");
    assert!(m.starts_with("usage: filter list"), "{m}");
    assert!(e("filter show").starts_with("usage: filter list"));
    assert!(e("filter add p0 in").starts_with("usage: filter list"));
    assert!(e("filter add p0 sideways deny").starts_with("sideways: expected in or out"));
    assert_eq!(
        e("filter delete p0 in x"),
        "x: not a rule index: invalid digit found in string"
    );
    assert_eq!(e("filter add p0 in --index"), "--index needs a value");
    assert!(e("filter add p0 in --index -1 deny").starts_with("--index -1: not an index"));
    assert_eq!(
        e("filter add p0 in --index 1 --index 2 deny"),
        "--index given twice"
    );
}

#[test]
fn ipsec_sa_add_turns_keys_into_an_sa_table() {
    let args: Vec<String> = [
        "sa",
        "add",
        "spi=0x3001",
        "direction=in",
        "protocol=ah",
        "replay_window=128",
        "auth_key=0011",
    ]
    .map(String::from)
    .to_vec();
    let Request::IpsecSaAdd { sa } = ipsec_request(&args).unwrap() else {
        panic!("not an add");
    };
    assert_eq!(
        sa,
        "spi = 0x3001\ndirection = \"in\"\nprotocol = \"ah\"\nreplay_window = 128\nauth_key = \"0011\"\n"
    );
    let del: Vec<String> = ["sa", "delete", "0x3001", "in"].map(String::from).to_vec();
    assert_eq!(
        ipsec_request(&del).unwrap(),
        Request::IpsecSaDelete {
            spi: 0x3001,
            direction: Some("in".into())
        }
    );
    assert_eq!(ipsec_request(&[]).unwrap(), Request::Ipsec);
    assert!(ipsec_request(&["sa".into(), "add".into(), "spi".into()]).is_err());
}
