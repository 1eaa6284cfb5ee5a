//! The `arp` collector: `node_arp_entries{device}`, the number of IPv4 neighbour entries per
//! interface.
//!
//! As node_exporter 1.7+ does, the entries come from an rtnetlink neighbour dump by default
//! (`--collector.arp.netlink`), counting entries without `NUD_NOARP` as `/proc/net/arp` would
//! list them; `--no-collector.arp.netlink` reads `<procfs>/net/arp` instead (which truncates long
//! link-layer addresses such as InfiniBand's, the reason upstream moved away from it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::BothFilter;
use crate::sys::netlink as rtnl;

/// Flags of the `arp` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Regexp of arp devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.arp.device-include", value_name = "REGEX")]
    pub arp_device_include: Option<String>,

    /// Regexp of arp devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.arp.device-exclude", value_name = "REGEX")]
    pub arp_device_exclude: Option<String>,

    /// Use netlink to gather stats instead of /proc/net/arp. (default: true)
    #[arg(long = "collector.arp.netlink", overrides_with = "arp_no_netlink")]
    pub arp_netlink: bool,

    #[arg(
        long = "no-collector.arp.netlink",
        hide = true,
        overrides_with = "arp_netlink"
    )]
    pub arp_no_netlink: bool,
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    // Upstream does not reject both filters here: a device must pass both.
    Ok(Box::new(Arp {
        path: paths.proc("net/arp"),
        filter: BothFilter::new(
            "collector.arp.device",
            args.arp_device_include.as_deref(),
            args.arp_device_exclude.as_deref(),
        )?,
        netlink: !args.arp_no_netlink,
    }))
}

struct Arp {
    path: PathBuf,
    filter: BothFilter,
    netlink: bool,
}

impl Collector for Arp {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let entries = if self.netlink {
            netlink_entries().map_err(|e| anyhow::anyhow!("could not get ARP entries: {e}"))?
        } else {
            let text = crate::sys::read::string(&self.path)
                .map_err(|e| CollectError::from_io(&self.path, e))?;
            parse_proc_net_arp(&text)
                .map_err(|e| anyhow::anyhow!("could not get ARP entries: {e}"))?
        };
        for (device, count) in &entries {
            if self.filter.ignored(device) {
                continue;
            }
            out.gauge(
                "node_arp_entries",
                "ARP entries by device",
                &[("device", device)],
                *count as f64,
            );
        }
        Ok(())
    }
}

/// Entries per device from `/proc/net/arp`: a header line, then
/// `IP address  HW type  Flags  HW address  Mask  Device`.
pub fn parse_proc_net_arp(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut entries = BTreeMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        if cols.len() < 6 {
            return Err(format!(
                "ARP table line has {} columns: {line:?}",
                cols.len()
            ));
        }
        *entries.entry(cols[5].to_string()).or_insert(0) += 1;
    }
    Ok(entries)
}

/// Counts per interface index from `RTM_NEWNEIGH` message bodies (`ndmsg`: family, pad,
/// ifindex at 4, state at 8), skipping `NUD_NOARP` entries as upstream does.
pub fn count_neighbours<'a>(bodies: impl IntoIterator<Item = &'a [u8]>) -> BTreeMap<i32, u64> {
    let mut by_index = BTreeMap::new();
    for body in bodies {
        if body.len() < 12 || i32::from(body[0]) != libc::AF_INET {
            continue;
        }
        let index = i32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
        let state = u16::from_ne_bytes([body[8], body[9]]);
        if state & libc::NUD_NOARP == 0 {
            *by_index.entry(index).or_insert(0) += 1;
        }
    }
    by_index
}

fn netlink_entries() -> std::io::Result<BTreeMap<String, u64>> {
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let mut req = [0u8; 12]; // ndmsg
    req[0] = libc::AF_INET as u8;
    rtnl::dump(rtnl::RTM_GETNEIGH, &req, |kind, body| {
        if kind == rtnl::RTM_NEWNEIGH {
            bodies.push(body.get(..12).unwrap_or(body).to_vec());
        }
    })?;
    let by_index = count_neighbours(bodies.iter().map(Vec::as_slice));
    let mut entries = BTreeMap::new();
    for (index, count) in by_index {
        // An interface that vanished since the dump is skipped, as upstream does.
        if let Some(name) = if_name(index) {
            entries.insert(name, count);
        }
    }
    Ok(entries)
}

/// The name of an interface index (one SIOCGIFNAME ioctl, like if_indextoname(3)).
fn if_name(index: i32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index as u32, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success buf holds a NUL-terminated name.
    Some(
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_file};

    // As on a Linux 6.x host with a bridge and an IPoIB interface (truncated address as the
    // kernel prints it), plus an incomplete entry.
    const PROC_NET_ARP: &str =
        "IP address       HW type     Flags       HW address            Mask     Device
192.168.0.1      0x1         0x2         02:fc:00:00:00:05     *        eth0
192.168.0.7      0x1         0x0         00:00:00:00:00:00     *        eth0
10.0.0.4         0x20        0x2         80:00:00:48:fe:80:00:00:00     *        ib0
172.17.0.2       0x1         0x2         02:42:ac:11:00:02     *        docker0
";

    #[test]
    fn parses_proc_net_arp() {
        let e = parse_proc_net_arp(PROC_NET_ARP).unwrap();
        assert_eq!(e["eth0"], 2);
        assert_eq!(e["ib0"], 1);
        assert_eq!(e["docker0"], 1);
        assert!(parse_proc_net_arp("header\n1.2.3.4 0x1 0x2\n").is_err());
        assert!(parse_proc_net_arp("header\n").unwrap().is_empty());
    }

    fn ndmsg(family: u8, index: i32, state: u16) -> Vec<u8> {
        let mut b = vec![family, 0, 0, 0];
        b.extend_from_slice(&index.to_ne_bytes());
        b.extend_from_slice(&state.to_ne_bytes());
        b.extend_from_slice(&[0, 1]);
        b
    }

    #[test]
    fn counts_neighbours_skipping_noarp() {
        let msgs = [
            ndmsg(libc::AF_INET as u8, 2, 0x02),  // reachable
            ndmsg(libc::AF_INET as u8, 2, 0x04),  // stale
            ndmsg(libc::AF_INET as u8, 2, 0x40),  // noarp
            ndmsg(libc::AF_INET as u8, 3, 0x80),  // permanent
            ndmsg(libc::AF_INET6 as u8, 3, 0x02), // not ARP
        ];
        let c = count_neighbours(msgs.iter().map(Vec::as_slice));
        assert_eq!(c.get(&2), Some(&2));
        assert_eq!(c.get(&3), Some(&1));
    }

    #[test]
    fn proc_mode_output_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        write_file(&dir.path().join("net/arp"), PROC_NET_ARP);
        let paths = proc_at(dir.path());
        let args = Args {
            arp_no_netlink: true,
            arp_device_include: Some("^(eth|ib)".into()),
            arp_device_exclude: Some("^ib".into()),
            ..Args::default()
        };
        assert_eq!(
            render(&*build(&paths, &args).unwrap()).unwrap(),
            "# HELP node_arp_entries ARP entries by device\n# TYPE node_arp_entries gauge\nnode_arp_entries{device=\"eth0\"} 2\n"
        );
        let missing = proc_at(&dir.path().join("nope"));
        let err = build(&missing, &args)
            .unwrap()
            .update(&mut Exposition::new())
            .unwrap_err();
        assert!(matches!(err, CollectError::NoData(_)));
        let bad = Args {
            arp_device_exclude: Some("[".into()),
            ..Args::default()
        };
        assert!(build(&paths, &bad).is_err());
    }

    #[test]
    fn netlink_dump_works_here() {
        assert!(netlink_entries().is_ok());
        assert_eq!(if_name(1).as_deref(), Some("lo"));
    }
}
