//! The `tcpstat` collector (off by default): `node_tcp_connection_states{state}`, the number of
//! TCP sockets in each state plus the bytes queued on them, from one sock_diag dump per address
//! family (`SOCK_DIAG_BY_FAMILY`), as node_exporter's `tcpstat_linux.go` does.
//!
//! Like upstream, IPv6 sockets are counted too when `<procfs>/net/tcp6` exists, and only the
//! states seen are reported; `rx_queued_bytes` and `tx_queued_bytes` always are.

use std::collections::BTreeMap;
use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectResult, Collector, Paths};
use crate::sys::netlink;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(TcpStat {
        tcp6: paths.proc("net/tcp6"),
    }))
}

struct TcpStat {
    tcp6: PathBuf,
}

/// `SOCK_DIAG_BY_FAMILY` from `linux/sock_diag.h`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// All twelve TCP states (`TCPF_ALL`).
const TCPF_ALL: u32 = 0xfff;
/// `sizeof(struct inet_diag_req_v2)`.
const REQ_LEN: usize = 56;

impl Collector for TcpStat {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let mut counts = Counts::default();
        dump(libc::AF_INET as u8, &mut counts)
            .map_err(|e| anyhow::anyhow!("couldn't get tcpstats: {e}"))?;
        if self.tcp6.exists() {
            dump(libc::AF_INET6 as u8, &mut counts)
                .map_err(|e| anyhow::anyhow!("couldn't get tcp6stats: {e}"))?;
        }
        let fam = out.family(
            "node_tcp_connection_states",
            "Number of connection states.",
            exporter_core::MetricType::Gauge,
        );
        for (state, value) in counts.by_state() {
            fam.sample(&[("state", state)], value);
        }
        Ok(())
    }
}

fn dump(family: u8, counts: &mut Counts) -> std::io::Result<()> {
    // inet_diag_req_v2: family, protocol, ext (INET_DIAG_INFO, as upstream asks), pad, the
    // states bitmap, then an all-zero inet_diag_sockid (no filter).
    let mut req = [0u8; REQ_LEN];
    req[0] = family;
    req[1] = libc::IPPROTO_TCP as u8;
    req[2] = 1 << (2 - 1);
    req[4..8].copy_from_slice(&TCPF_ALL.to_ne_bytes());
    netlink::dump_on(
        libc::NETLINK_SOCK_DIAG,
        SOCK_DIAG_BY_FAMILY,
        &req,
        |_, msg| counts.add(msg),
    )
}

/// Sockets per kernel state number and the summed queues.
#[derive(Default)]
pub struct Counts {
    states: BTreeMap<u8, f64>,
    rx_queued: f64,
    tx_queued: f64,
}

impl Counts {
    /// Counts one `inet_diag_msg`: the state is byte 1; `idiag_rqueue` and `idiag_wqueue` follow
    /// the 4-byte head, the 48-byte socket id and `idiag_expires`.
    pub fn add(&mut self, msg: &[u8]) {
        if msg.len() < 64 {
            return;
        }
        let u32_at = |i: usize| u32::from_ne_bytes([msg[i], msg[i + 1], msg[i + 2], msg[i + 3]]);
        *self.states.entry(msg[1]).or_default() += 1.0;
        self.rx_queued += f64::from(u32_at(56));
        self.tx_queued += f64::from(u32_at(60));
    }

    /// `(label, value)` in upstream's state names.
    pub fn by_state(&self) -> Vec<(&'static str, f64)> {
        let mut v: Vec<_> = self
            .states
            .iter()
            .map(|(&s, &n)| (state_name(s), n))
            .collect();
        v.push(("rx_queued_bytes", self.rx_queued));
        v.push(("tx_queued_bytes", self.tx_queued));
        v
    }
}

/// The kernel's `TCP_*` state numbers (`include/net/tcp_states.h`) in upstream's label spelling.
fn state_name(state: u8) -> &'static str {
    match state {
        1 => "established",
        2 => "syn_sent",
        3 => "syn_recv",
        4 => "fin_wait1",
        5 => "fin_wait2",
        6 => "time_wait",
        7 => "close",
        8 => "close_wait",
        9 => "last_ack",
        10 => "listen",
        11 => "closing",
        _ => "unknown",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::render;

    fn msg(state: u8, rq: u32, wq: u32) -> Vec<u8> {
        let mut m = vec![0u8; 72];
        m[0] = libc::AF_INET as u8;
        m[1] = state;
        m[56..60].copy_from_slice(&rq.to_ne_bytes());
        m[60..64].copy_from_slice(&wq.to_ne_bytes());
        m
    }

    #[test]
    fn counts_states_and_queues() {
        let mut c = Counts::default();
        c.add(&msg(1, 0, 1));
        c.add(&msg(10, 3, 0));
        c.add(&msg(10, 0, 0));
        c.add(&[0u8; 10]); // too short: ignored
        assert_eq!(
            c.by_state(),
            vec![
                ("established", 1.0),
                ("listen", 2.0),
                ("rx_queued_bytes", 3.0),
                ("tx_queued_bytes", 1.0)
            ]
        );
    }

    /// Against this host's kernel: a listening socket of our own is counted.
    #[test]
    fn sees_a_listener_on_this_host() {
        let _l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = build(&Paths::default(), &Args::default()).unwrap();
        match render(c.as_ref()) {
            Ok(text) => assert!(
                text.contains("node_tcp_connection_states{state=\"listen\"}"),
                "{text}"
            ),
            Err(e) => eprintln!("skipped: sock_diag refused here: {e}"),
        }
    }
}
