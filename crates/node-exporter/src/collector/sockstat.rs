//! The `sockstat` collector: socket counts and memory per protocol from `<procfs>/net/sockstat`
//! and `net/sockstat6`, as `node_sockstat_<PROTO>_<key>` gauges.
//!
//! `mem` is in pages; like node_exporter we also expose it as `<PROTO>_mem_bytes`. `inuse` is
//! always exposed for every protocol line, the other keys only where the kernel prints them.
//! A missing file (IPv6 disabled, say) is skipped.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectResult, Collector, Paths};

/// Flags of the `sockstat` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(Box::new(SockStat {
        v4: paths.proc("net/sockstat"),
        v6: paths.proc("net/sockstat6"),
        page_size: if page > 0 { page as i64 } else { 4096 },
    }))
}

struct SockStat {
    v4: PathBuf,
    v6: PathBuf,
    page_size: i64,
}

/// One parsed file.
#[derive(Debug, Default, PartialEq)]
pub struct Sockstat {
    /// `sockets: used N` (IPv4 file only).
    pub used: Option<i64>,
    /// `(protocol, [(key, value)])` with `inuse` first and always present.
    pub protocols: Vec<(String, Vec<(&'static str, i64)>)>,
}

/// Parses a sockstat file: `PROTO: key value key value ...` per line.
pub fn parse_sockstat(text: &str) -> Result<Sockstat, String> {
    let mut stat = Sockstat::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 3 {
            return Err(format!("malformed sockstat line: {line:?}"));
        }
        let kvs = &fields[1..];
        if !kvs.len().is_multiple_of(2) {
            return Err(format!("odd number of fields in key/value pairs: {line:?}"));
        }
        let mut pairs = Vec::with_capacity(kvs.len() / 2);
        for kv in kvs.chunks_exact(2) {
            let v: i64 = kv[1]
                .parse()
                .map_err(|_| format!("invalid value {:?} in sockstat line {line:?}", kv[1]))?;
            pairs.push((kv[0], v));
        }
        let proto = fields[0].strip_suffix(':').unwrap_or(fields[0]);
        if proto == "sockets" {
            stat.used = Some(pairs.iter().find(|(k, _)| *k == "used").map_or(0, |p| p.1));
            continue;
        }
        let get = |k: &str| pairs.iter().rev().find(|(n, _)| *n == k).map(|p| p.1);
        let mut values = vec![("inuse", get("inuse").unwrap_or(0))];
        for key in ["orphan", "tw", "alloc", "mem", "memory"] {
            if let Some(v) = get(key) {
                values.push((key, v));
            }
        }
        stat.protocols.push((proto.to_string(), values));
    }
    Ok(stat)
}

impl SockStat {
    fn read(
        &self,
        path: &std::path::Path,
        family: &str,
    ) -> Result<Option<Sockstat>, anyhow::Error> {
        match crate::sys::read::string(path) {
            Ok(text) => parse_sockstat(&text)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("failed to get {family} sockstat data: {e}")),
            Err(e) if crate::sys::read::is_missing(&e) => {
                tracing::debug!("{family} sockstat statistics not found, skipping");
                Ok(None)
            }
            Err(e) => Err(anyhow::anyhow!(
                "failed to get {family} sockstat data: {}: {e}",
                path.display()
            )),
        }
    }

    fn emit(&self, out: &mut Exposition, s: &Sockstat, ipv6: bool) {
        if let (false, Some(used)) = (ipv6, s.used) {
            out.gauge(
                "node_sockstat_sockets_used",
                "Number of IPv4 sockets in use.",
                &[],
                used as f64,
            );
        }
        for (proto, values) in &s.protocols {
            for &(key, v) in values {
                out.gauge(
                    &format!("node_sockstat_{proto}_{key}"),
                    &format!("Number of {proto} sockets in state {key}."),
                    &[],
                    v as f64,
                );
                if key == "mem" {
                    out.gauge(
                        &format!("node_sockstat_{proto}_mem_bytes"),
                        &format!("Number of {proto} sockets in state mem_bytes."),
                        &[],
                        (v * self.page_size) as f64,
                    );
                }
            }
        }
    }
}

impl Collector for SockStat {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let v4 = self.read(&self.v4, "IPv4")?;
        let v6 = self.read(&self.v6, "IPv6")?;
        if let Some(s) = &v4 {
            self.emit(out, s, false);
        }
        if let Some(s) = &v6 {
            self.emit(out, s, true);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // As on Linux 6.18 (this host).
    const SOCKSTAT: &str = "sockets: used 19
TCP: inuse 3 orphan 0 tw 6 alloc 3 mem 114
UDP: inuse 0 mem 0
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
";
    const SOCKSTAT6: &str = "TCP6: inuse 1
UDP6: inuse 2
UDPLITE6: inuse 0
RAW6: inuse 0
FRAG6: inuse 0 memory 0
";

    #[test]
    fn parses() {
        let s = parse_sockstat(SOCKSTAT).unwrap();
        assert_eq!(s.used, Some(19));
        assert_eq!(
            s.protocols[0],
            (
                "TCP".to_string(),
                vec![
                    ("inuse", 3),
                    ("orphan", 0),
                    ("tw", 6),
                    ("alloc", 3),
                    ("mem", 114)
                ]
            )
        );
        assert_eq!(
            s.protocols[4],
            ("FRAG".to_string(), vec![("inuse", 0), ("memory", 0)])
        );
        assert!(parse_sockstat("TCP: inuse\n").is_err());
        assert!(parse_sockstat("TCP: inuse 1 tw\n").is_err());
        assert!(parse_sockstat("TCP: inuse x\n").is_err());
        // A protocol line without "inuse" still gets inuse 0, as upstream's struct does.
        let s = parse_sockstat("X: memory 5\n").unwrap();
        assert_eq!(s.protocols[0].1, vec![("inuse", 0), ("memory", 5)]);
    }

    fn run(files: &[(&str, &str)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        write_files(&dir.path().join("net"), files);
        let paths = proc_at(dir.path());
        let c = SockStat {
            v4: paths.proc("net/sockstat"),
            v6: paths.proc("net/sockstat6"),
            page_size: 4096,
        };
        render(&c).unwrap()
    }

    #[test]
    fn output() {
        let text = run(&[("sockstat", SOCKSTAT), ("sockstat6", SOCKSTAT6)]);
        for l in [
            "# HELP node_sockstat_sockets_used Number of IPv4 sockets in use.\n# TYPE node_sockstat_sockets_used gauge\nnode_sockstat_sockets_used 19\n",
            "# HELP node_sockstat_TCP_mem_bytes Number of TCP sockets in state mem_bytes.\n# TYPE node_sockstat_TCP_mem_bytes gauge\nnode_sockstat_TCP_mem_bytes 466944\n",
            "# HELP node_sockstat_TCP_tw Number of TCP sockets in state tw.\n# TYPE node_sockstat_TCP_tw gauge\nnode_sockstat_TCP_tw 6\n",
            "node_sockstat_UDP6_inuse 2\n",
            "node_sockstat_FRAG6_memory 0\n",
            "node_sockstat_UDP_mem_bytes 0\n",
        ] {
            assert!(text.contains(l), "missing {l:?} in\n{text}");
        }
        assert_eq!(text.matches("# TYPE").count(), 20);
    }

    #[test]
    fn missing_files_are_skipped() {
        assert!(run(&[("sockstat6", SOCKSTAT6)]).contains("node_sockstat_TCP6_inuse 1"));
        assert_eq!(run(&[]), "");
    }
}
