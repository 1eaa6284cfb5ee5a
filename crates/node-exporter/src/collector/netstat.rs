//! The `netstat` collector: protocol counters from `<procfs>/net/netstat`, `net/snmp` and
//! `net/snmp6` as untyped `node_netstat_<Protocol>_<Field>`, for the fields matching
//! `--collector.netstat.fields`.
//!
//! `netstat` and `snmp` hold pairs of lines (`TcpExt: SyncookiesSent ...` then the values);
//! `snmp6` one `Ip6InReceives 2` pair per line, split after the first "6". Like node_exporter,
//! every value must be a number, whether its field is selected or not, and the files are read
//! from `--path.procfs` (the network namespace of the process whose `/proc` that is).

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::{compile_regex, MemoMatch};

/// node_exporter 1.9+'s default field selection.
pub const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// Flags of the `netstat` collector.
#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
pub struct Args {
    /// Regexp of fields to return for netstat collector.
    #[arg(long = "collector.netstat.fields", default_value = DEFAULT_FIELDS, value_name = "REGEX")]
    pub netstat_fields: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            netstat_fields: DEFAULT_FIELDS.to_string(),
        }
    }
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let fields = compile_regex("collector.netstat.fields", &args.netstat_fields)?;
    Ok(Box::new(NetStat {
        netstat: paths.proc("net/netstat"),
        snmp: paths.proc("net/snmp"),
        snmp6: paths.proc("net/snmp6"),
        fields: MemoMatch::new(fields),
    }))
}

struct NetStat {
    netstat: PathBuf,
    snmp: PathBuf,
    snmp6: PathBuf,
    /// Whether a `Protocol_Field` key is wanted; the kernel's key set is fixed, so each key is
    /// matched once.
    fields: MemoMatch,
}

/// `(protocol, field, value)` triples.
pub type Stats = Vec<(String, String, f64)>;

impl Collector for NetStat {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let read =
            |p: &PathBuf| crate::sys::read::string(p).map_err(|e| CollectError::from_io(p, e));
        let mut stats = parse_pairs(&read(&self.netstat)?)
            .map_err(|e| anyhow::anyhow!("couldn't get netstats: {e}"))?;
        stats.extend(
            parse_pairs(&read(&self.snmp)?)
                .map_err(|e| anyhow::anyhow!("couldn't get SNMP stats: {e}"))?,
        );
        // Without IPv6 the file does not exist; that is not an error.
        match crate::sys::read::string(&self.snmp6) {
            Ok(text) => stats.extend(
                parse_snmp6(&text).map_err(|e| anyhow::anyhow!("couldn't get SNMP6 stats: {e}"))?,
            ),
            Err(e) if crate::sys::read::is_missing(&e) => {}
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "couldn't get SNMP6 stats: {}: {e}",
                    self.snmp6.display()
                )
                .into())
            }
        }
        for (protocol, field, value) in stats {
            let key = format!("{protocol}_{field}");
            if self.fields.is_match(&key) {
                out.untyped(
                    &format!("node_netstat_{key}"),
                    &format!("Statistic {protocol}{field}."),
                    &[],
                    value,
                );
            }
        }
        Ok(())
    }
}

/// Parses the two-line blocks of `/proc/net/netstat` and `/proc/net/snmp`. A later block of
/// the same protocol replaces an earlier one, as node_exporter's map does.
pub fn parse_pairs(text: &str) -> Result<Stats, String> {
    let mut blocks: Vec<(String, Vec<(String, f64)>)> = Vec::new();
    let mut lines = text.lines();
    while let Some(names) = lines.next() {
        if names.is_empty() {
            continue;
        }
        let values = lines.next().unwrap_or("");
        let names: Vec<&str> = names.split(' ').collect();
        let values: Vec<&str> = values.split(' ').collect();
        let protocol = names[0].strip_suffix(':').unwrap_or(names[0]).to_string();
        if names.len() != values.len() {
            return Err(format!("mismatch field count mismatch: {protocol}"));
        }
        let mut fields = Vec::with_capacity(names.len());
        for (n, v) in names.iter().zip(values.iter()).skip(1) {
            let v: f64 = v
                .parse()
                .map_err(|_| format!("invalid value {v} in netstats"))?;
            fields.push((n.to_string(), v));
        }
        blocks.retain(|(p, _)| *p != protocol);
        blocks.push((protocol, fields));
    }
    Ok(blocks
        .into_iter()
        .flat_map(|(p, fields)| fields.into_iter().map(move |(n, v)| (p.clone(), n, v)))
        .collect())
}

/// Parses `/proc/net/snmp6`: `Icmp6InMsgs  1` becomes `("Icmp6", "InMsgs", 1)`. Lines without
/// a "6" in the name are skipped.
pub fn parse_snmp6(text: &str) -> Result<Stats, String> {
    let mut stats = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(six) = name.find('6') else { continue };
        let v: f64 = value
            .parse()
            .map_err(|_| format!("invalid value {value} in netstats"))?;
        stats.push((name[..=six].to_string(), name[six + 1..].to_string(), v));
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_file, write_files};

    // Shapes as on Linux 6.18 (this host), shortened.
    const NETSTAT: &str =
        "TcpExt: SyncookiesSent SyncookiesRecv ListenDrops TCPTimeouts TCPOFOQueue PruneCalled
TcpExt: 0 1 2 3 4 5
IpExt: InNoRoutes InOctets OutOctets
IpExt: 0 96716705 348700
";
    const SNMP: &str = "Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 3001
Icmp: InMsgs InErrors OutMsgs
Icmp: 1 0 0
IcmpMsg: InType3 OutType3
IcmpMsg: 1 1
Tcp: RtoAlgorithm MaxConn ActiveOpens CurrEstab InErrs OutRsts
Tcp: 1 -1 52 2 0 31
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 74 0 0 75 0 0 0 0 0
";
    const SNMP6: &str = "Ip6InReceives                   \t2
Ip6InOctets                     \t128
Icmp6InMsgs                     \t1
Icmp6InType133                  \t1
Udp6InDatagrams                 \t0
UdpLite6InErrors                \t0
";

    #[test]
    fn parses_pairs() {
        let s = parse_pairs(SNMP).unwrap();
        assert!(s.contains(&("Ip".into(), "Forwarding".into(), 2.0)));
        assert!(s.contains(&("Tcp".into(), "MaxConn".into(), -1.0)));
        assert!(s.contains(&("IcmpMsg".into(), "OutType3".into(), 1.0)));
        assert_eq!(s.len(), 3 + 3 + 2 + 6 + 9);
        assert!(parse_pairs("Tcp: A B\nTcp: 1\n").is_err());
        assert!(parse_pairs("Tcp: A B\nTcp: 1 x\n").is_err());
        // A repeated protocol replaces the earlier block.
        let r = parse_pairs("X: A\nX: 1\nX: B\nX: 2\n").unwrap();
        assert_eq!(r, vec![("X".into(), "B".into(), 2.0)]);
    }

    #[test]
    fn parses_snmp6() {
        let s = parse_snmp6(SNMP6).unwrap();
        assert!(s.contains(&("Icmp6".into(), "InType133".into(), 1.0)));
        assert!(s.contains(&("UdpLite6".into(), "InErrors".into(), 0.0)));
        assert!(s.contains(&("Ip6".into(), "InOctets".into(), 128.0)));
        assert!(parse_snmp6("Ip6InReceives x\n").is_err());
        assert!(parse_snmp6("NoSix 1\nshort\n").unwrap().is_empty());
    }

    fn fake_proc(snmp6: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("net");
        write_files(&net, &[("netstat", NETSTAT), ("snmp", SNMP)]);
        if snmp6 {
            write_file(&net.join("snmp6"), SNMP6);
        }
        dir
    }

    fn run(dir: &std::path::Path, args: &Args) -> Result<String, CollectError> {
        let c = build(&proc_at(dir), args).unwrap();
        let text = render(&*c)?;
        // A second scrape uses the cached field selection and gives the same output.
        assert_eq!(text, render(&*c)?);
        Ok(text)
    }

    #[test]
    fn default_fields_output() {
        let dir = fake_proc(true);
        let text = run(dir.path(), &Args::default()).unwrap();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            vec![
                "node_netstat_Icmp6_InMsgs 1",
                "node_netstat_Icmp_InErrors 0",
                "node_netstat_Icmp_InMsgs 1",
                "node_netstat_Icmp_OutMsgs 0",
                "node_netstat_Ip6_InOctets 128",
                "node_netstat_IpExt_InOctets 9.6716705e+07",
                "node_netstat_IpExt_OutOctets 348700",
                "node_netstat_Ip_Forwarding 2",
                "node_netstat_TcpExt_ListenDrops 2",
                "node_netstat_TcpExt_SyncookiesRecv 1",
                "node_netstat_TcpExt_SyncookiesSent 0",
                "node_netstat_TcpExt_TCPOFOQueue 4",
                "node_netstat_TcpExt_TCPTimeouts 3",
                "node_netstat_Tcp_ActiveOpens 52",
                "node_netstat_Tcp_CurrEstab 2",
                "node_netstat_Tcp_InErrs 0",
                "node_netstat_Tcp_OutRsts 31",
                "node_netstat_Udp6_InDatagrams 0",
                "node_netstat_UdpLite6_InErrors 0",
                "node_netstat_Udp_InDatagrams 74",
                "node_netstat_Udp_InErrors 0",
                "node_netstat_Udp_NoPorts 0",
                "node_netstat_Udp_OutDatagrams 75",
                "node_netstat_Udp_RcvbufErrors 0",
                "node_netstat_Udp_SndbufErrors 0",
            ]
        );
        assert!(text.contains(
            "# HELP node_netstat_TcpExt_ListenDrops Statistic TcpExtListenDrops.\n# TYPE node_netstat_TcpExt_ListenDrops untyped\n"
        ));
    }

    #[test]
    fn custom_fields_and_missing_snmp6() {
        let dir = fake_proc(false);
        let args = Args {
            netstat_fields: "^Tcp_MaxConn$".into(),
        };
        let text = run(dir.path(), &args).unwrap();
        assert_eq!(
            text,
            "# HELP node_netstat_Tcp_MaxConn Statistic TcpMaxConn.\n# TYPE node_netstat_Tcp_MaxConn untyped\nnode_netstat_Tcp_MaxConn -1\n"
        );
        assert!(build(
            &Paths::default(),
            &Args {
                netstat_fields: "(".into()
            }
        )
        .is_err());
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            run(empty.path(), &Args::default()),
            Err(CollectError::NoData(_))
        ));
    }
}
