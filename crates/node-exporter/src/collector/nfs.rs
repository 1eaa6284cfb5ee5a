//! The `nfs` collector: NFS client statistics from `<procfs>/net/rpc/nfs` (`node_nfs_*`).
//!
//! The file has `net`, `rpc`, `proc2`, `proc3` and `proc4` lines; each `procN` line starts with
//! its number of counters. Procedures are labelled with the field names of node_exporter's
//! procfs structures (`GetAttr`, `ReadDirPlus`, ...), which is what its output carries. A line
//! the kernel does not print (no NFSv2 client, say) gives zeros, as upstream. Without the NFS
//! client module loaded there is no file: no data.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::rpc::{expect_len, parse_values, proc_counts, V2_PROCS, V3_PROCS};

/// Flags of the `nfs` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Nfs {
        path: paths.proc("net/rpc/nfs"),
    }))
}

struct Nfs {
    path: PathBuf,
}

/// NFSv4 client operations, in the kernel's order (`NFSPROC4_CLNT_*`), named as node_exporter's
/// procfs library names the first 59 counters (checked against node_exporter 1.5.0).
pub const V4_CLIENT_OPS: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "LayoutGet",
    "GetDeviceInfo",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

/// Client statistics.
#[derive(Debug, Default, PartialEq)]
pub struct ClientStats {
    /// net: count, udp, tcp, tcp connections.
    pub network: [u64; 4],
    /// rpc: calls, retransmissions, auth refreshes.
    pub rpc: [u64; 3],
    pub v2: Vec<u64>,
    pub v3: Vec<u64>,
    pub v4: Vec<u64>,
}

/// Parses `/proc/net/rpc/nfs`.
pub fn parse_client(text: &str) -> Result<ClientStats, String> {
    let mut s = ClientStats {
        v2: vec![0; 18],
        v3: vec![0; 22],
        v4: vec![0; 59],
        ..ClientStats::default()
    };
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 2 {
            return Err(format!("invalid NFS metric line {line:?}"));
        }
        let v = parse_values(line, &parts[1..])?;
        match parts[0] {
            "net" => {
                expect_len("Network", &v, 4)?;
                s.network.copy_from_slice(&v);
            }
            "rpc" => {
                expect_len("RPC", &v, 3)?;
                s.rpc.copy_from_slice(&v);
            }
            "proc2" => s.v2 = proc_counts("V2Stats", &v, 18)?[..18].to_vec(),
            "proc3" => s.v3 = proc_counts("V3Stats", &v, 22)?[..22].to_vec(),
            "proc4" => {
                let mut ops = proc_counts("ClientV4Stats", &v, 0)?;
                // Older kernels have fewer operations: the rest count as zero.
                ops.resize(ops.len().max(59), 0);
                ops.truncate(59);
                s.v4 = ops;
            }
            other => return Err(format!("unknown NFS metric line {other:?}")),
        }
    }
    Ok(s)
}

impl Collector for Nfs {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let s = parse_client(&text)
            .map_err(|e| anyhow::anyhow!("failed to retrieve nfs stats: {e}"))?;
        let help = "Total NFSd network packets (sent+received) by protocol type.";
        out.counter(
            "node_nfs_packets_total",
            help,
            &[("protocol", "udp")],
            s.network[1] as f64,
        );
        out.counter(
            "node_nfs_packets_total",
            help,
            &[("protocol", "tcp")],
            s.network[2] as f64,
        );
        out.counter(
            "node_nfs_connections_total",
            "Total number of NFSd TCP connections.",
            &[],
            s.network[3] as f64,
        );
        out.counter(
            "node_nfs_rpcs_total",
            "Total number of RPCs performed.",
            &[],
            s.rpc[0] as f64,
        );
        out.counter(
            "node_nfs_rpc_retransmissions_total",
            "Number of RPC transmissions performed.",
            &[],
            s.rpc[1] as f64,
        );
        out.counter(
            "node_nfs_rpc_authentication_refreshes_total",
            "Number of RPC authentication refreshes performed.",
            &[],
            s.rpc[2] as f64,
        );
        let help = "Number of NFS procedures invoked.";
        for (proto, names, values) in [
            ("2", &V2_PROCS[..], &s.v2),
            ("3", &V3_PROCS[..], &s.v3),
            ("4", &V4_CLIENT_OPS[..], &s.v4),
        ] {
            for (method, v) in names.iter().zip(values.iter()) {
                out.counter(
                    "node_nfs_requests_total",
                    help,
                    &[("proto", proto), ("method", method)],
                    *v as f64,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_file};

    // As on a Linux 6.x NFSv4.2 client (proc4 has 69 operations there), no NFSv2.
    const NFS: &str = "net 70 70 69 45
rpc 1218785755 374636 1218815394
proc3 22 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21
proc4 69 0 100 200 300 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 7 8 9 10 11 12 13 14 15 16 17
";

    #[test]
    fn parses_client() {
        let s = parse_client(NFS).unwrap();
        assert_eq!(s.network, [70, 70, 69, 45]);
        assert_eq!(s.rpc, [1218785755, 374636, 1218815394]);
        assert_eq!(s.v2, vec![0; 18]);
        assert_eq!(s.v3[21], 21);
        assert_eq!(s.v4.len(), 59);
        assert_eq!(s.v4[1..4], [100, 200, 300]);
        assert_eq!(s.v4[58], 7);
        // A short proc4 (older kernel) is padded.
        let s = parse_client("proc4 3 1 2 3\n").unwrap();
        assert_eq!(s.v4[..4], [1, 2, 3, 0]);
        assert!(parse_client("proc3 5 1 2\n").is_err());
        assert!(parse_client("proc2 3 1 2 3\n").is_err());
        assert!(parse_client("net 1 2 3\n").is_err());
        assert!(parse_client("bogus 1\n").is_err());
        assert!(parse_client("rpc 1 x 3\n").is_err());
        assert!(parse_client("net\n").is_err());
    }

    #[test]
    fn output() {
        let dir = tempfile::tempdir().unwrap();
        write_file(&dir.path().join("net/rpc/nfs"), NFS);
        let text = render(&*build(&proc_at(dir.path()), &Args {}).unwrap()).unwrap();
        for l in [
            "# HELP node_nfs_packets_total Total NFSd network packets (sent+received) by protocol type.\n# TYPE node_nfs_packets_total counter\nnode_nfs_packets_total{protocol=\"tcp\"} 69\nnode_nfs_packets_total{protocol=\"udp\"} 70\n",
            "# HELP node_nfs_connections_total Total number of NFSd TCP connections.\n# TYPE node_nfs_connections_total counter\nnode_nfs_connections_total 45\n",
            "node_nfs_rpcs_total 1.218785755e+09\n",
            "# HELP node_nfs_rpc_retransmissions_total Number of RPC transmissions performed.\n",
            "node_nfs_rpc_authentication_refreshes_total 1.218815394e+09\n",
            "# HELP node_nfs_requests_total Number of NFS procedures invoked.\n# TYPE node_nfs_requests_total counter\n",
            "node_nfs_requests_total{method=\"Commit\",proto=\"3\"} 21\n",
            "node_nfs_requests_total{method=\"Null\",proto=\"2\"} 0\n",
            "node_nfs_requests_total{method=\"Write\",proto=\"4\"} 200\n",
            "node_nfs_requests_total{method=\"Clone\",proto=\"4\"} 7\n",
        ] {
            assert!(text.contains(l), "missing {l:?} in\n{text}");
        }
        assert_eq!(
            text.matches("node_nfs_requests_total{").count(),
            18 + 22 + 59
        );
        let none = proc_at(&dir.path().join("nope"));
        assert!(matches!(
            build(&none, &Args {})
                .unwrap()
                .update(&mut Exposition::new()),
            Err(CollectError::NoData(_))
        ));
    }
}
