//! The `nfsd` collector: NFS server statistics from `<procfs>/net/rpc/nfsd` (`node_nfsd_*`).
//!
//! Lines: `rc` (reply cache), `fh` (file handles), `io`, `th` (threads; only the first two
//! numbers count, the rest is a deprecated histogram), `ra` (read-ahead cache, zeros on new
//! kernels), `net`, `rpc`, `proc2`/`proc3`/`proc4`, `proc4ops` (variable length) and, since
//! Linux 6.6, `wdeleg_getattr`. Missing lines give zeros. Without nfsd loaded: no data.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::rpc::{expect_len, parse_values, proc_counts, V2_PROCS, V3_PROCS};

/// Flags of the `nfsd` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Nfsd {
        path: paths.proc("net/rpc/nfsd"),
    }))
}

struct Nfsd {
    path: PathBuf,
}

/// The NFSv4 operations node_exporter exposes, with their position in `proc4ops` (after the
/// count, 0-based: the operation number).
const V4_OPS: [(&str, usize); 35] = [
    ("Access", 3),
    ("Close", 4),
    ("Commit", 5),
    ("Create", 6),
    ("DelegPurge", 7),
    ("DelegReturn", 8),
    ("GetAttr", 9),
    ("GetFH", 10),
    ("Link", 11),
    ("Lock", 12),
    ("Lockt", 13),
    ("Locku", 14),
    ("Lookup", 15),
    ("LookupRoot", 16),
    ("Nverify", 17),
    ("Open", 18),
    ("OpenAttr", 19),
    ("OpenConfirm", 20),
    ("OpenDgrd", 21),
    ("PutFH", 22),
    ("Read", 25),
    ("ReadDir", 26),
    ("ReadLink", 27),
    ("Remove", 28),
    ("Rename", 29),
    ("Renew", 30),
    ("RestoreFH", 31),
    ("SaveFH", 32),
    ("SecInfo", 33),
    ("SetAttr", 34),
    ("SetClientID", 35),
    ("SetClientIDConfirm", 36),
    ("Verify", 37),
    ("Write", 38),
    ("RelLockOwner", 39),
];

/// Server statistics.
#[derive(Debug, Default, PartialEq)]
pub struct ServerStats {
    /// rc: hits, misses, nocache.
    pub reply_cache: [u64; 3],
    /// fh: stale, (4 unused).
    pub file_handles: [u64; 5],
    /// io: read, written.
    pub io: [u64; 2],
    /// th: threads, fullcnt.
    pub threads: [u64; 2],
    /// ra: cache size, 10 histogram buckets, not found.
    pub read_ahead: [u64; 12],
    /// net: count, udp, tcp, tcp connections.
    pub network: [u64; 4],
    /// rpc: count, bad count, bad format, bad auth, bad client.
    pub rpc: [u64; 5],
    pub v2: Vec<u64>,
    pub v3: Vec<u64>,
    /// proc4ops counters by operation number (0-based), padded to at least 40.
    pub v4_ops: Vec<u64>,
    pub wdeleg_getattr: u64,
}

/// Parses `/proc/net/rpc/nfsd`.
pub fn parse_server(text: &str) -> Result<ServerStats, String> {
    let mut s = ServerStats {
        v2: vec![0; 18],
        v3: vec![0; 22],
        v4_ops: vec![0; 40],
        ..ServerStats::default()
    };
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 2 {
            return Err(format!("invalid NFSd metric line {line:?}"));
        }
        let v = if parts[0] == "th" {
            if parts.len() < 3 {
                return Err(format!("invalid NFSd th metric line {line:?}"));
            }
            parse_values(line, &parts[1..3])?
        } else {
            parse_values(line, &parts[1..])?
        };
        match parts[0] {
            "rc" => {
                expect_len("ReplyCache", &v, 3)?;
                s.reply_cache.copy_from_slice(&v);
            }
            "fh" => {
                expect_len("FileHandles", &v, 5)?;
                s.file_handles.copy_from_slice(&v);
            }
            "io" => {
                expect_len("InputOutput", &v, 2)?;
                s.io.copy_from_slice(&v);
            }
            "th" => s.threads.copy_from_slice(&v),
            "ra" => {
                expect_len("ReadAheadCache", &v, 12)?;
                s.read_ahead.copy_from_slice(&v);
            }
            "net" => {
                expect_len("Network", &v, 4)?;
                s.network.copy_from_slice(&v);
            }
            "rpc" => {
                expect_len("RPC", &v, 5)?;
                s.rpc.copy_from_slice(&v);
            }
            "proc2" => s.v2 = proc_counts("V2Stats", &v, 18)?[..18].to_vec(),
            "proc3" => s.v3 = proc_counts("V3Stats", &v, 22)?[..22].to_vec(),
            "proc4" => {
                let n = v[0] as usize;
                if v.len() - 1 != n || n != 2 {
                    return Err(format!("invalid V4Stats line {v:?}"));
                }
            }
            "proc4ops" => {
                // NFSv4.0 servers (Linux < 2.6) list 39 operations, later ones 40 and more.
                let mut ops = proc_counts("V4Ops", &v, 39)?;
                ops.resize(ops.len().max(40), 0);
                s.v4_ops = ops;
            }
            "wdeleg_getattr" => s.wdeleg_getattr = v[0],
            other => return Err(format!("unknown NFSd metric line {other:?}")),
        }
    }
    Ok(s)
}

impl Collector for Nfsd {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let s = parse_server(&text)
            .map_err(|e| anyhow::anyhow!("failed to retrieve nfsd stats: {e}"))?;
        let c = |out: &mut Exposition, name: &str, help: &str, labels: &[(&str, &str)], v: u64| {
            out.counter(&format!("node_nfsd_{name}"), help, labels, v as f64)
        };
        c(
            out,
            "reply_cache_hits_total",
            "Total number of NFSd Reply Cache hits (client lost server response).",
            &[],
            s.reply_cache[0],
        );
        c(
            out,
            "reply_cache_misses_total",
            "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
            &[],
            s.reply_cache[1],
        );
        c(
            out,
            "reply_cache_nocache_total",
            "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
            &[],
            s.reply_cache[2],
        );
        // The other file handle counters are unused by the kernel.
        c(
            out,
            "file_handles_stale_total",
            "Total number of NFSd stale file handles",
            &[],
            s.file_handles[0],
        );
        c(
            out,
            "disk_bytes_read_total",
            "Total NFSd bytes read.",
            &[],
            s.io[0],
        );
        c(
            out,
            "disk_bytes_written_total",
            "Total NFSd bytes written.",
            &[],
            s.io[1],
        );
        out.gauge(
            "node_nfsd_server_threads",
            "Total number of NFSd kernel threads that are running.",
            &[],
            s.threads[0] as f64,
        );
        out.gauge(
            "node_nfsd_read_ahead_cache_size_blocks",
            "How large the read ahead cache is in blocks.",
            &[],
            s.read_ahead[0] as f64,
        );
        c(
            out,
            "read_ahead_cache_not_found_total",
            "Total number of NFSd read ahead cache not found.",
            &[],
            s.read_ahead[11],
        );
        let help = "Total NFSd network packets (sent+received) by protocol type.";
        c(
            out,
            "packets_total",
            help,
            &[("proto", "udp")],
            s.network[1],
        );
        c(
            out,
            "packets_total",
            help,
            &[("proto", "tcp")],
            s.network[2],
        );
        c(
            out,
            "connections_total",
            "Total number of NFSd TCP connections.",
            &[],
            s.network[3],
        );
        let help = "Total number of NFSd RPC errors by error type.";
        c(out, "rpc_errors_total", help, &[("error", "fmt")], s.rpc[2]);
        c(
            out,
            "rpc_errors_total",
            help,
            &[("error", "auth")],
            s.rpc[3],
        );
        c(
            out,
            "rpc_errors_total",
            help,
            &[("error", "cInt")],
            s.rpc[4],
        );
        c(
            out,
            "server_rpcs_total",
            "Total number of NFSd RPCs.",
            &[],
            s.rpc[0],
        );

        let help = "Total number NFSd Requests by method and protocol.";
        // Null is not exposed for the server.
        for (proto, names, values) in [("2", &V2_PROCS[..], &s.v2), ("3", &V3_PROCS[..], &s.v3)] {
            for (method, v) in names.iter().zip(values.iter()).skip(1) {
                c(
                    out,
                    "requests_total",
                    help,
                    &[("proto", proto), ("method", method)],
                    *v,
                );
            }
        }
        for (method, idx) in V4_OPS {
            let v = s.v4_ops.get(idx).copied().unwrap_or(0);
            c(
                out,
                "requests_total",
                help,
                &[("proto", "4"), ("method", method)],
                v,
            );
        }
        c(
            out,
            "requests_total",
            help,
            &[("proto", "4"), ("method", "WdelegGetattr")],
            s.wdeleg_getattr,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_file};

    // As on a Linux 6.x server (proc4ops has 77 entries there; wdeleg_getattr since 6.6).
    const NFSD: &str = "rc 0 6 18622
fh 0 0 0 0 0
io 157286400 72
th 8 0 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000
ra 32 0 0 0 0 0 0 0 0 0 0 4
net 18628 1 18627 6
rpc 18628 0 1 2 3
proc2 18 2 69 0 0 4410 0 0 0 0 0 0 0 0 0 0 0 99 2
proc3 22 2 112 0 2719 111 0 0 0 0 0 0 0 0 0 0 0 27 216 0 2 1 0
proc4 2 2 10853
proc4ops 77 0 0 0 1098 2 0 0 0 0 8179 5896 0 0 0 0 5900 0 0 2 0 2 0 9609 0 2 150 1272 0 0 0 1236 0 0 0 0 3 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
wdeleg_getattr 16
";

    #[test]
    fn parses_server() {
        let s = parse_server(NFSD).unwrap();
        assert_eq!(s.reply_cache, [0, 6, 18622]);
        assert_eq!(s.threads, [8, 0]);
        assert_eq!(s.read_ahead[11], 4);
        assert_eq!(s.rpc, [18628, 0, 1, 2, 3]);
        assert_eq!(s.v2[16], 99);
        assert_eq!(s.v3[3], 2719);
        assert_eq!(s.v4_ops.len(), 77);
        assert_eq!(s.v4_ops[3], 1098); // ACCESS
        assert_eq!(s.v4_ops[22], 9609); // PUTFH
        assert_eq!(s.v4_ops[35], 3); // SETCLIENTID
        assert_eq!(s.wdeleg_getattr, 16);
        // 39 operations (old kernels): RELEASE_LOCKOWNER counts zero.
        let ops39 = format!("proc4ops 39{}\n", " 1".repeat(39));
        assert_eq!(parse_server(&ops39).unwrap().v4_ops[39], 0);
        assert!(parse_server("proc4ops 38 1\n").is_err());
        assert!(parse_server("proc4 3 1 2 3\n").is_err());
        assert!(parse_server("rc 1 2\n").is_err());
        assert!(parse_server("th 8\n").is_err());
        assert!(parse_server("bogus 1\n").is_err());
    }

    #[test]
    fn output() {
        let dir = tempfile::tempdir().unwrap();
        write_file(&dir.path().join("net/rpc/nfsd"), NFSD);
        let text = render(&*build(&proc_at(dir.path()), &Args {}).unwrap()).unwrap();
        for l in [
            "# HELP node_nfsd_reply_cache_nocache_total Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).\n# TYPE node_nfsd_reply_cache_nocache_total counter\nnode_nfsd_reply_cache_nocache_total 18622\n",
            "# HELP node_nfsd_server_threads Total number of NFSd kernel threads that are running.\n# TYPE node_nfsd_server_threads gauge\nnode_nfsd_server_threads 8\n",
            "node_nfsd_read_ahead_cache_size_blocks 32\n",
            "node_nfsd_read_ahead_cache_not_found_total 4\n",
            "node_nfsd_packets_total{proto=\"tcp\"} 18627\nnode_nfsd_packets_total{proto=\"udp\"} 1\n",
            "node_nfsd_rpc_errors_total{error=\"auth\"} 2\nnode_nfsd_rpc_errors_total{error=\"cInt\"} 3\nnode_nfsd_rpc_errors_total{error=\"fmt\"} 1\n",
            "node_nfsd_disk_bytes_written_total 72\n",
            "node_nfsd_requests_total{method=\"Access\",proto=\"4\"} 1098\n",
            "node_nfsd_requests_total{method=\"FsStat\",proto=\"2\"} 2\n",
            "node_nfsd_requests_total{method=\"PathConf\",proto=\"3\"} 1\n",
            "node_nfsd_requests_total{method=\"SetClientIDConfirm\",proto=\"4\"} 3\n",
            "node_nfsd_requests_total{method=\"WdelegGetattr\",proto=\"4\"} 16\n",
        ] {
            assert!(text.contains(l), "missing {l:?} in\n{text}");
        }
        assert!(!text.contains("method=\"Null\""));
        assert_eq!(
            text.matches("node_nfsd_requests_total{").count(),
            17 + 21 + 35 + 1
        );
    }
}
