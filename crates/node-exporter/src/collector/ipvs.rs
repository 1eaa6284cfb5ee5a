//! The `ipvs` collector: IPVS totals from `<procfs>/net/ip_vs_stats` and per-backend connection
//! counts and weights from `<procfs>/net/ip_vs`.
//!
//! Backends are labelled by the labels chosen with `--collector.ipvs.backend-labels` and summed
//! over the ones dropped, as node_exporter does (dropping labels bounds the cardinality).
//! Without the ip_vs module there is no `ip_vs_stats`: no data.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::go::go_ip_string;

/// Every backend label, in node_exporter's order.
pub const FULL_LABELS: [&str; 6] = [
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
];

/// Flags of the `ipvs` collector.
#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
pub struct Args {
    /// Comma separated list for IPVS backend stats labels.
    #[arg(
        long = "collector.ipvs.backend-labels",
        default_value = "local_address,local_port,remote_address,remote_port,proto,local_mark",
        value_name = "LABELS"
    )]
    pub ipvs_backend_labels: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            ipvs_backend_labels: FULL_LABELS.join(","),
        }
    }
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Ipvs {
        stats: paths.proc("net/ip_vs_stats"),
        backends: paths.proc("net/ip_vs"),
        labels: parse_labels(&args.ipvs_backend_labels).map_err(UsageError::new)?,
    }))
}

/// The chosen labels in canonical order; unknown ones are an error naming them, sorted.
pub fn parse_labels(s: &str) -> Result<Vec<&'static str>, String> {
    let wanted: Vec<&str> = s.split(',').filter(|l| !l.is_empty()).collect();
    let mut unknown: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|l| !FULL_LABELS.contains(l))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        return Err(format!(
            "unknown IPVS backend labels: {:?}",
            unknown.join(", ")
        ));
    }
    Ok(FULL_LABELS
        .iter()
        .copied()
        .filter(|l| wanted.contains(l))
        .collect())
}

struct Ipvs {
    stats: PathBuf,
    backends: PathBuf,
    labels: Vec<&'static str>,
}

/// `ip_vs_stats` totals: connections, incoming/outgoing packets, incoming/outgoing bytes.
#[derive(Debug, Default, PartialEq)]
pub struct IpvsStats {
    pub connections: u64,
    pub incoming_packets: u64,
    pub outgoing_packets: u64,
    pub incoming_bytes: u64,
    pub outgoing_bytes: u64,
}

/// Parses `/proc/net/ip_vs_stats`: two header lines, then the five totals in hex.
pub fn parse_stats(text: &str) -> Result<IpvsStats, String> {
    let lines: Vec<&str> = text.splitn(4, '\n').collect();
    if lines.len() != 4 {
        return Err("ip_vs_stats corrupt: too short".into());
    }
    let f: Vec<&str> = lines[2].split_whitespace().collect();
    if f.len() != 5 {
        return Err("ip_vs_stats corrupt: unexpected number of fields".into());
    }
    let h = |s: &str| u64::from_str_radix(s, 16).map_err(|e| format!("ip_vs_stats: {s:?}: {e}"));
    Ok(IpvsStats {
        connections: h(f[0])?,
        incoming_packets: h(f[1])?,
        outgoing_packets: h(f[2])?,
        incoming_bytes: h(f[3])?,
        outgoing_bytes: h(f[4])?,
    })
}

/// One real server line of `/proc/net/ip_vs` with its virtual service.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Backend {
    pub local_address: String,
    pub local_port: u16,
    pub local_mark: String,
    pub remote_address: String,
    pub remote_port: u16,
    pub proto: String,
    pub weight: u64,
    pub active_conn: u64,
    pub inact_conn: u64,
}

/// `C0A80016:0CEA` (IPv4 in hex) or `[2620:0000:...:0001]:0035` (IPv6), port in hex.
fn parse_ip_port(s: &str) -> Result<(String, u16), String> {
    // The offsets below are byte offsets: only ASCII input has its characters there (and
    // slicing anything else could split a character, which panics).
    if !s.is_ascii() {
        return Err(format!("unexpected IP:Port {s:?}"));
    }
    let ip = match s.len() {
        13 => {
            let v = u32::from_str_radix(&s[..8], 16).map_err(|e| format!("{s:?}: {e}"))?;
            IpAddr::V4(Ipv4Addr::from(v))
        }
        46 => s[1..40]
            .parse::<IpAddr>()
            .map_err(|_| format!("invalid IPv6 addr {}", &s[1..40]))?,
        _ => return Err(format!("unexpected IP:Port {s}")),
    };
    let port = u16::from_str_radix(&s[s.len() - 4..], 16).map_err(|e| format!("{s:?}: {e}"))?;
    Ok((go_ip_string(ip), port))
}

/// Parses `/proc/net/ip_vs`.
pub fn parse_backends(text: &str) -> Result<Vec<Backend>, String> {
    let mut res = Vec::new();
    let mut proto = String::new();
    let mut local_mark = String::new();
    let mut local_address = String::new();
    let mut local_port = 0u16;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f[0] == "IP" || f[0] == "Prot" || f.get(1) == Some(&"RemoteAddress:Port") {
            continue;
        }
        match f[0] {
            "TCP" | "UDP" | "SCTP" if f.len() >= 2 => {
                proto = f[0].to_string();
                local_mark.clear();
                (local_address, local_port) = parse_ip_port(f[1])?;
            }
            "FWM" if f.len() >= 2 => {
                proto = f[0].to_string();
                local_mark = f[1].to_string();
                // A firewall-mark service has no address; Go prints its nil IP as "<nil>",
                // which node_exporter turns into "".
                local_address.clear();
                local_port = 0;
            }
            "->" if f.len() >= 6 => {
                let (remote_address, remote_port) = parse_ip_port(f[1])?;
                let n = |s: &str| s.parse::<u64>().map_err(|e| format!("{line:?}: {e}"));
                res.push(Backend {
                    local_address: local_address.clone(),
                    local_port,
                    local_mark: local_mark.clone(),
                    remote_address,
                    remote_port,
                    proto: proto.clone(),
                    weight: n(f[3])?,
                    active_conn: n(f[4])?,
                    inact_conn: n(f[5])?,
                });
            }
            _ => {}
        }
    }
    Ok(res)
}

impl Collector for Ipvs {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.stats)
            .map_err(|e| CollectError::from_io(&self.stats, e))?;
        let s = parse_stats(&text).map_err(|e| anyhow::anyhow!("could not get IPVS stats: {e}"))?;
        for (name, help, v) in [
            (
                "node_ipvs_connections_total",
                "The total number of connections made.",
                s.connections,
            ),
            (
                "node_ipvs_incoming_packets_total",
                "The total number of incoming packets.",
                s.incoming_packets,
            ),
            (
                "node_ipvs_outgoing_packets_total",
                "The total number of outgoing packets.",
                s.outgoing_packets,
            ),
            (
                "node_ipvs_incoming_bytes_total",
                "The total amount of incoming data.",
                s.incoming_bytes,
            ),
            (
                "node_ipvs_outgoing_bytes_total",
                "The total amount of outgoing data.",
                s.outgoing_bytes,
            ),
        ] {
            out.counter(name, help, &[], v as f64);
        }

        let text = crate::sys::read::string(&self.backends).map_err(|e| {
            anyhow::anyhow!(
                "could not get backend status: {}: {e}",
                self.backends.display()
            )
        })?;
        let backends = parse_backends(&text)
            .map_err(|e| anyhow::anyhow!("could not get backend status: {e}"))?;
        // Sum over the labels left out.
        let mut sums: BTreeMap<Vec<String>, (u64, u64, u64)> = BTreeMap::new();
        for b in &backends {
            let key: Vec<String> = self
                .labels
                .iter()
                .map(|l| match *l {
                    "local_address" => b.local_address.clone(),
                    "local_port" => b.local_port.to_string(),
                    "remote_address" => b.remote_address.clone(),
                    "remote_port" => b.remote_port.to_string(),
                    "proto" => b.proto.clone(),
                    _ => b.local_mark.clone(),
                })
                .collect();
            let e = sums.entry(key).or_default();
            e.0 += b.active_conn;
            e.1 += b.inact_conn;
            e.2 += b.weight;
        }
        for (values, (active, inact, weight)) in &sums {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            out.gauge(
                "node_ipvs_backend_connections_active",
                "The current active connections by local and remote address.",
                &labels,
                *active as f64,
            );
            out.gauge(
                "node_ipvs_backend_connections_inactive",
                "The current inactive connections by local and remote address.",
                &labels,
                *inact as f64,
            );
            out.gauge(
                "node_ipvs_backend_weight",
                "The current backend weight by local and remote address.",
                &labels,
                *weight as f64,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // Shapes as printed by ip_vs on Linux 6.x (ip_vs_stats) and ip_vs_ctl.c (ip_vs).
    const STATS: &str = "   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes
 16AA370 E33656E5        0     51D8C8883AB3                0

 Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s
       4    1FB3C        0          1282A8F                0
";
    const IP_VS: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0A80016:0CEA wlc
  -> C0A85216:0CEA      Tunnel  100    248        2
  -> C0A85318:0CEA      Tunnel  100    248        2
TCP  C0A80039:0CEA wlc
  -> C0A85216:0CEA      Tunnel  100    1499       0
FWM  10001000 wlc
  -> C0A8321A:0CEA      Route   0      0          1
  -> C0A83215:0CEA      Route   0      0          0
UDP  [2620:0000:0000:0000:0000:0000:0000:0001]:0035 rr
  -> [2620:0000:0000:0000:0000:0000:0000:0002]:0035      Masq    1      0          3
";

    #[test]
    fn parses_stats() {
        assert_eq!(
            parse_stats(STATS).unwrap(),
            IpvsStats {
                connections: 23765872,
                incoming_packets: 3811989221,
                outgoing_packets: 0,
                incoming_bytes: 89991519156915,
                outgoing_bytes: 0,
            }
        );
        assert!(parse_stats("a\nb\n").is_err());
        assert!(parse_stats("a\nb\n1 2\n\n").is_err());
    }

    #[test]
    fn parses_backends() {
        let b = parse_backends(IP_VS).unwrap();
        assert_eq!(b.len(), 6);
        assert_eq!(
            b[0],
            Backend {
                local_address: "192.168.0.22".into(),
                local_port: 3306,
                local_mark: "".into(),
                remote_address: "192.168.82.22".into(),
                remote_port: 3306,
                proto: "TCP".into(),
                weight: 100,
                active_conn: 248,
                inact_conn: 2,
            }
        );
        assert_eq!(b[3].local_mark, "10001000");
        assert_eq!(b[3].local_address, "");
        assert_eq!(b[3].proto, "FWM");
        assert_eq!(b[5].local_address, "2620::1");
        assert_eq!(b[5].remote_address, "2620::2");
        assert_eq!(b[5].local_port, 53);
        assert!(parse_backends("TCP  XYZ wlc\n").is_err());
    }

    #[test]
    fn non_ascii_addresses_are_errors_not_panics() {
        // 13 and 46 bytes long, with a multi-byte character across the offsets sliced at.
        let v4 = "C0A8001\u{e9}:0CE";
        assert_eq!(v4.len(), 13);
        assert!(parse_ip_port(v4).is_err());
        assert!(parse_backends(&format!("TCP  {v4} wlc\n")).is_err());
        let v6 = "[2620:0000:0000:0000:0000:0000:0000:000\u{e9}]:003";
        assert_eq!(v6.len(), 46);
        assert!(parse_ip_port(v6).is_err());
        let v6 = "[2620:0000:0000:0000:0000:0000:0000:0001]:00\u{e9}";
        assert_eq!(v6.len(), 46);
        assert!(parse_ip_port(v6).is_err());
    }

    #[test]
    fn labels_flag() {
        assert_eq!(
            parse_labels("proto,local_port").unwrap(),
            vec!["local_port", "proto"]
        );
        assert_eq!(
            parse_labels("zeta,proto,alpha").unwrap_err(),
            "unknown IPVS backend labels: \"alpha, zeta\""
        );
        assert!(parse_labels("").unwrap().is_empty());
    }

    fn run(args: &Args, files: &[(&str, &str)]) -> Result<String, CollectError> {
        let dir = tempfile::tempdir().unwrap();
        write_files(&dir.path().join("net"), files);
        render(&*build(&proc_at(dir.path()), args).unwrap())
    }

    #[test]
    fn output_full_and_aggregated_labels() {
        let files = [("ip_vs_stats", STATS), ("ip_vs", IP_VS)];
        let text = run(&Args::default(), &files).unwrap();
        for l in [
            "# HELP node_ipvs_connections_total The total number of connections made.\n# TYPE node_ipvs_connections_total counter\nnode_ipvs_connections_total 2.3765872e+07\n",
            "# HELP node_ipvs_incoming_bytes_total The total amount of incoming data.\n",
            "node_ipvs_backend_connections_active{local_address=\"192.168.0.22\",local_mark=\"\",local_port=\"3306\",proto=\"TCP\",remote_address=\"192.168.82.22\",remote_port=\"3306\"} 248\n",
            "node_ipvs_backend_connections_inactive{local_address=\"\",local_mark=\"10001000\",local_port=\"0\",proto=\"FWM\",remote_address=\"192.168.50.26\",remote_port=\"3306\"} 1\n",
            "node_ipvs_backend_weight{local_address=\"2620::1\",local_mark=\"\",local_port=\"53\",proto=\"UDP\",remote_address=\"2620::2\",remote_port=\"53\"} 1\n",
        ] {
            assert!(text.contains(l), "missing {l:?} in\n{text}");
        }
        let args = Args {
            ipvs_backend_labels: "remote_address,proto".into(),
        };
        let text = run(&args, &files).unwrap();
        // Both TCP services have backend 192.168.82.22: 248 + 1499 active, 100 + 100 weight.
        assert!(text.contains(
            "node_ipvs_backend_connections_active{proto=\"TCP\",remote_address=\"192.168.82.22\"} 1747\n"
        ));
        assert!(text.contains(
            "node_ipvs_backend_weight{proto=\"TCP\",remote_address=\"192.168.82.22\"} 200\n"
        ));
    }

    #[test]
    fn no_module_is_no_data_and_bad_labels_fail_build() {
        assert!(matches!(
            run(&Args::default(), &[]),
            Err(CollectError::NoData(_))
        ));
        let bad = Args {
            ipvs_backend_labels: "nope".into(),
        };
        assert!(build(&Paths::default(), &bad).is_err());
    }
}
