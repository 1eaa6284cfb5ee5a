//! The `drbd` collector (off by default, as upstream): DRBD 8's per-device counters and states
//! from `/proc/drbd`, `node_drbd_*{device}`. As upstream's `drbd_linux.go`: the file is read as
//! whitespace-separated `key:value` words; `N:` starts device `drbdN`; sizes in KiB become
//! bytes (`nr` is already bytes upstream's way, so it is not scaled); `ro`/`ds` pairs give a
//! `local` and a `remote` sample; `cs` gives `connected`. DRBD 9 moved its statistics to
//! debugfs and leaves only a version header here, so this collector then exports nothing.

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Drbd {
        path: paths.proc("drbd"),
    }))
}

struct Drbd {
    path: std::path::PathBuf,
}

/// `(key, metric suffix, HELP, counter, multiplier)`.
const NUMERICAL: [(&str, &str, &str, bool, f64); 12] = [
    ("ns", "network_sent_bytes_total", "Total number of bytes sent via the network.", true, 1024.0),
    ("nr", "network_received_bytes_total", "Total number of bytes received via the network.", true, 1.0),
    ("dw", "disk_written_bytes_total", "Net data written on local hard disk; in bytes.", true, 1024.0),
    ("dr", "disk_read_bytes_total", "Net data read from local hard disk; in bytes.", true, 1024.0),
    ("al", "activitylog_writes_total", "Number of updates of the activity log area of the meta data.", true, 1.0),
    ("bm", "bitmap_writes_total", "Number of updates of the bitmap area of the meta data.", true, 1.0),
    ("lo", "local_pending", "Number of open requests to the local I/O sub-system.", false, 1.0),
    (
        "pe",
        "remote_pending",
        "Number of requests sent to the peer, but that have not yet been answered by the latter.",
        false,
        1.0,
    ),
    (
        "ua",
        "remote_unacknowledged",
        "Number of requests received by the peer via the network connection, but that have not yet been answered.",
        false,
        1.0,
    ),
    (
        "ap",
        "application_pending",
        "Number of block I/O requests forwarded to DRBD, but not yet answered by DRBD.",
        false,
        1.0,
    ),
    ("ep", "epochs", "Number of Epochs currently on the fly.", false, 1.0),
    ("oos", "out_of_sync_bytes", "Amount of data known to be out of sync; in bytes.", false, 1024.0),
];

/// `(key, metric suffix, HELP, the value that reads as 1)`.
const PAIRS: [(&str, &str, &str, &str); 2] = [
    (
        "ro",
        "node_role_is_primary",
        "Whether the role of the node is in the primary state.",
        "Primary",
    ),
    (
        "ds",
        "disk_state_is_up_to_date",
        "Whether the disk of the node is up to date.",
        "UpToDate",
    ),
];

impl Collector for Drbd {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        write_drbd(&text, out).map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display()))?;
        Ok(())
    }
}

/// Parses `/proc/drbd` into `out`; a numerical value that is not a number fails, as upstream
/// (which has already sent the samples before it, as we have).
pub fn write_drbd(text: &str, out: &mut Exposition) -> Result<(), String> {
    let mut device = String::from("unknown");
    for word in text.split_whitespace() {
        let kv: Vec<&str> = word.split(':').collect();
        let [key, value] = kv.as_slice() else {
            continue;
        };
        if value.is_empty() && key.parse::<u64>().is_ok() {
            device = format!("drbd{}", key.parse::<u64>().unwrap_or_default());
            continue;
        }
        if let Some((_, suffix, help, counter, mult)) = NUMERICAL.iter().find(|m| m.0 == *key) {
            let v = crate::sys::go::go_parse_float(value)
                .ok_or_else(|| format!("invalid value {value:?} for {key}"))?;
            let name = format!("node_drbd_{suffix}");
            if *counter {
                out.counter(&name, help, &[("device", &device)], v * mult);
            } else {
                out.gauge(&name, help, &[("device", &device)], v * mult);
            }
            continue;
        }
        if let Some((_, suffix, help, ok)) = PAIRS.iter().find(|m| m.0 == *key) {
            // Upstream indexes the remote half without checking (a panic); we refuse the file.
            let (local, remote) = value
                .split_once('/')
                .ok_or_else(|| format!("{key}:{value} is not a local/remote pair"))?;
            let remote = remote.split('/').next().unwrap_or(remote);
            let name = format!("node_drbd_{suffix}");
            for (node, v) in [("local", local), ("remote", remote)] {
                let up = if v == *ok { 1.0 } else { 0.0 };
                out.gauge(&name, help, &[("device", &device), ("node", node)], up);
            }
            continue;
        }
        if *key == "cs" {
            let up = if *value == "Connected" { 1.0 } else { 0.0 };
            out.gauge(
                "node_drbd_connected",
                "Whether DRBD is connected to the peer.",
                &[("device", &device)],
                up,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, text, write_files};

    // Hand-made (no DRBD here), in the layout of DRBD 8.4's /proc/drbd.
    const DRBD: &str = "version: 8.4.11 (api:1/proto:86-101)\n\
srcversion: 0123456789ABCDEF0123456\n\
 1: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n\
    ns:100 nr:2048 dw:10 dr:20 al:3 bm:4 lo:0 pe:1 ua:2 ap:0 ep:1 wo:f oos:5\n\
 2: cs:StandAlone ro:Secondary/Unknown ds:Diskless/DUnknown C r-----\n\
    ns:18446744073709551615 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n";

    #[test]
    fn renders() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &[("drbd", DRBD)]);
        let t = render(&*build(&proc_at(dir.path()), &Args {}).unwrap()).unwrap();
        assert!(t.contains("# HELP node_drbd_network_sent_bytes_total Total number of bytes sent via the network.\n# TYPE node_drbd_network_sent_bytes_total counter\nnode_drbd_network_sent_bytes_total{device=\"drbd1\"} 102400\nnode_drbd_network_sent_bytes_total{device=\"drbd2\"} 1.888946593147858e+22\n"), "{t}");
        assert!(t.contains("node_drbd_network_received_bytes_total{device=\"drbd1\"} 2048\n"));
        assert!(t.contains("node_drbd_out_of_sync_bytes{device=\"drbd1\"} 5120\n"));
        assert!(t.contains("node_drbd_node_role_is_primary{device=\"drbd1\",node=\"local\"} 1\nnode_drbd_node_role_is_primary{device=\"drbd1\",node=\"remote\"} 0\n"));
        assert!(
            t.contains("node_drbd_disk_state_is_up_to_date{device=\"drbd2\",node=\"local\"} 0\n")
        );
        assert!(t.contains("# TYPE node_drbd_connected gauge\nnode_drbd_connected{device=\"drbd1\"} 1\nnode_drbd_connected{device=\"drbd2\"} 0\n"));
        assert!(!t.contains("version"));
    }

    #[test]
    fn edge_cases() {
        let mut out = Exposition::new();
        // Before any device line: "unknown", as upstream.
        write_drbd("ns:1", &mut out).unwrap();
        assert!(text(out).contains("{device=\"unknown\"} 1024"));
        assert!(write_drbd("1: ns:x", &mut Exposition::new()).is_err());
        assert!(write_drbd("1: ro:Primary", &mut Exposition::new()).is_err());
        // DRBD 9: only the header.
        let mut out = Exposition::new();
        write_drbd("version: 9.2.4 (api:2/proto:86-122)\n", &mut out).unwrap();
        assert_eq!(text(out), "");
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            render(&*build(&proc_at(empty.path()), &Args {}).unwrap()),
            Err(CollectError::NoData(_))
        ));
    }
}
