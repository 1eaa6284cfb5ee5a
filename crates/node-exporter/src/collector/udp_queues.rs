//! The `udp_queues` collector: `node_udp_queues{queue="rx"|"tx",ip="v4"|"v6"}`, the bytes queued
//! in all UDP sockets, summed from the `tx_queue:rx_queue` column of `<procfs>/net/udp` and
//! `net/udp6`. A missing file skips that family; both missing is "no data".

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

/// Flags of the `udp_queues` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(UdpQueues {
        v4: paths.proc("net/udp"),
        v6: paths.proc("net/udp6"),
    }))
}

struct UdpQueues {
    v4: PathBuf,
    v6: PathBuf,
}

/// Sums `(tx, rx)` queue bytes over the socket lines of `/proc/net/udp{,6}`:
/// `sl local_address rem_address st tx_queue:rx_queue tr tm->when retrnsmt uid timeout inode ...`
/// with the queues in hex. A line with fewer than 10 columns or a bad queue fails the file, as
/// in node_exporter's procfs library.
pub fn parse_udp_queues(text: &str) -> Result<(u64, u64), String> {
    let (mut tx, mut rx) = (0u64, 0u64);
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 10 {
            return Err(format!("less than 10 columns found: {line:?}"));
        }
        let (t, r) = fields[4]
            .split_once(':')
            .ok_or_else(|| format!("cannot parse tx_queue:rx_queue in {line:?}"))?;
        let t =
            u64::from_str_radix(t, 16).map_err(|e| format!("cannot parse tx_queue {t:?}: {e}"))?;
        let r =
            u64::from_str_radix(r, 16).map_err(|e| format!("cannot parse rx_queue {r:?}: {e}"))?;
        tx = tx.wrapping_add(t);
        rx = rx.wrapping_add(r);
    }
    Ok((tx, rx))
}

impl Collector for UdpQueues {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let mut missing = 0;
        for (path, ip, what) in [(&self.v4, "v4", "udp"), (&self.v6, "v6", "udp6")] {
            let text = match crate::sys::read::string(path) {
                Ok(t) => t,
                Err(e) if crate::sys::read::is_missing(&e) => {
                    tracing::debug!("not collecting ip{ip} based metrics");
                    missing += 1;
                    continue;
                }
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "couldn't get {what} queued bytes: {}: {e}",
                        path.display()
                    )
                    .into())
                }
            };
            let (tx, rx) = parse_udp_queues(&text)
                .map_err(|e| anyhow::anyhow!("couldn't get {what} queued bytes: {e}"))?;
            let help = "Number of allocated memory in the kernel for UDP datagrams in bytes.";
            out.gauge(
                "node_udp_queues",
                help,
                &[("queue", "tx"), ("ip", ip)],
                tx as f64,
            );
            out.gauge(
                "node_udp_queues",
                help,
                &[("queue", "rx"), ("ip", ip)],
                rx as f64,
            );
        }
        if missing == 2 {
            return Err(CollectError::NoData("no net/udp nor net/udp6".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // As on a Linux 6.x host with two bound sockets, one with data queued.
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  221: 00000000:0044 00000000:0000 07 00000000:00000000 00 00000000:00000000     0        0 18291 2 0000000000000000 0
  990: 3500007F:0035 00000000:0000 07 00000010:00000a00 00 00000000:00000000   101        0 17513 2 0000000000000000 3
";
    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
";

    #[test]
    fn parses() {
        assert_eq!(parse_udp_queues(UDP).unwrap(), (0x10, 0xa00));
        assert_eq!(parse_udp_queues(UDP6).unwrap(), (0, 0));
        assert!(parse_udp_queues("h\n 1: a b 07 zz:00 0 0 0 0 0\n").is_err());
        assert!(parse_udp_queues("h\n 1: a b 07\n").is_err());
    }

    fn run(files: &[(&str, &str)]) -> Result<String, CollectError> {
        let dir = tempfile::tempdir().unwrap();
        write_files(&dir.path().join("net"), files);
        render(&*build(&proc_at(dir.path()), &Args {}).unwrap())
    }

    #[test]
    fn output() {
        assert_eq!(
            run(&[("udp", UDP), ("udp6", UDP6)]).unwrap(),
            "# HELP node_udp_queues Number of allocated memory in the kernel for UDP datagrams in bytes.
# TYPE node_udp_queues gauge
node_udp_queues{ip=\"v4\",queue=\"rx\"} 2560
node_udp_queues{ip=\"v4\",queue=\"tx\"} 16
node_udp_queues{ip=\"v6\",queue=\"rx\"} 0
node_udp_queues{ip=\"v6\",queue=\"tx\"} 0
"
        );
        assert!(run(&[("udp", UDP)]).unwrap().contains("ip=\"v4\""));
        assert!(matches!(run(&[]), Err(CollectError::NoData(_))));
    }
}
