//! The `network_route` collector (off by default): `node_network_route_info` for every unicast
//! route of every table and family, and `node_network_routes` per device, from one
//! `RTM_GETROUTE` dump, as node_exporter's `network_route_linux.go` does.
//!
//! Upstream's labels, kept as they are: `src` is the route's preferred source (`RTA_PREFSRC`),
//! `dest` is `default` for a zero-length prefix, `weight` is set only on multipath hops (the
//! kernel's `rtnh_hops` + 1), and a hop whose interface is gone gets `device=""`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectResult, Collector, Paths};
use crate::sys::go::go_ip_string;
use crate::sys::netlink as rtnl;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(_paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(NetworkRoute))
}

struct NetworkRoute;

impl Collector for NetworkRoute {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let links = rtnl::link_names().map_err(|e| anyhow::anyhow!("couldn't get links: {e}"))?;
        let mut routes = Vec::new();
        // An all-zero rtmsg: every family, every table.
        rtnl::dump(libc::RTM_GETROUTE, &[0u8; 12], |kind, body| {
            if kind == libc::RTM_NEWROUTE {
                routes.extend(parse_route(body));
            }
        })
        .map_err(|e| anyhow::anyhow!("couldn't get routes: {e}"))?;
        render(&routes, &links, out);
        Ok(())
    }
}

/// One route (or one hop of a multipath route), in label form except the interface index.
#[derive(Debug, PartialEq)]
pub struct Route {
    pub ifindex: i32,
    pub src: String,
    pub dest: String,
    pub gw: String,
    pub priority: u32,
    pub proto: &'static str,
    pub weight: String,
}

fn ip_label(data: &[u8]) -> String {
    let ip = if let Ok(v4) = <[u8; 4]>::try_from(data) {
        Some(IpAddr::from(v4))
    } else {
        <[u8; 16]>::try_from(data).ok().map(IpAddr::from)
    };
    ip.map(go_ip_string).unwrap_or_default()
}

/// One `RTM_NEWROUTE` body (`rtmsg` + attributes): its unicast routes, one per hop.
pub fn parse_route(body: &[u8]) -> Vec<Route> {
    // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32).
    if body.len() < 12 || body[7] != libc::RTN_UNICAST {
        return Vec::new();
    }
    let (dst_len, protocol) = (body[1], body[5]);
    let (mut dst, mut src, mut gw) = (String::new(), String::new(), String::new());
    let (mut oif, mut priority, mut multipath) = (0i32, 0u32, None);
    let u32_of = |d: &[u8]| {
        d.get(..4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    for (t, d) in rtnl::attrs(&body[12..]) {
        match t {
            libc::RTA_DST => dst = ip_label(d),
            libc::RTA_PREFSRC => src = ip_label(d),
            libc::RTA_GATEWAY => gw = ip_label(d),
            libc::RTA_OIF => oif = u32_of(d).unwrap_or(0) as i32,
            libc::RTA_PRIORITY => priority = u32_of(d).unwrap_or(0),
            libc::RTA_MULTIPATH => multipath = Some(d),
            _ => {}
        }
    }
    let dest = if dst_len == 0 {
        "default".to_string()
    } else {
        format!("{dst}/{dst_len}")
    };
    let proto = protocol_name(protocol);
    let Some(mut hops) = multipath else {
        return vec![Route {
            ifindex: oif,
            src,
            dest,
            gw,
            priority,
            proto,
            weight: String::new(),
        }];
    };
    // rtnexthop: len (u16), flags, hops, ifindex (i32), then the hop's own attributes.
    let mut out = Vec::new();
    while hops.len() >= 8 {
        let len = usize::from(u16::from_ne_bytes([hops[0], hops[1]]));
        if len < 8 || len > hops.len() {
            break;
        }
        let ifindex = i32::from_ne_bytes([hops[4], hops[5], hops[6], hops[7]]);
        let mut hop_gw = String::new();
        for (t, d) in rtnl::attrs(&hops[8..len]) {
            if t == libc::RTA_GATEWAY {
                hop_gw = ip_label(d);
            }
        }
        out.push(Route {
            ifindex,
            src: src.clone(),
            dest: dest.clone(),
            gw: hop_gw,
            priority,
            proto,
            weight: (u32::from(hops[3]) + 1).to_string(),
        });
        hops = &hops[((len + 3) & !3).min(hops.len())..];
    }
    out
}

fn render(routes: &[Route], links: &HashMap<i32, String>, out: &mut Exposition) {
    let mut per_device: BTreeMap<&str, f64> = BTreeMap::new();
    let fam = out.family(
        "node_network_route_info",
        "network routing table information",
        MetricType::Gauge,
    );
    for r in routes {
        let device = links.get(&r.ifindex).map(String::as_str).unwrap_or("");
        let priority = r.priority.to_string();
        fam.sample(
            &[
                ("device", device),
                ("src", &r.src),
                ("dest", &r.dest),
                ("gw", &r.gw),
                ("priority", &priority),
                ("proto", r.proto),
                ("weight", &r.weight),
            ],
            1.0,
        );
        *per_device.entry(device).or_default() += 1.0;
    }
    let fam = out.family(
        "node_network_routes",
        "network routes by interface",
        MetricType::Gauge,
    );
    for (device, n) in per_device {
        fam.sample(&[("device", device)], n);
    }
}

/// The `RTPROT_*` names of `include/uapi/linux/rtnetlink.h`, as upstream spells them.
fn protocol_name(p: u8) -> &'static str {
    match p {
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        3 => "boot",
        4 => "static",
        8 => "gated",
        9 => "ra",
        10 => "mrt",
        11 => "zebra",
        12 => "bird",
        13 => "dnrouted",
        14 => "xorp",
        15 => "ntk",
        16 => "dhcp",
        17 => "mrouted",
        42 => "babel",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        192 => "eigrp",
        _ => "unknown",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render as render_collector, text};
    use crate::sys::netlink::attr;

    fn rtmsg(family: u8, dst_len: u8, proto: u8, kind: u8) -> Vec<u8> {
        vec![family, dst_len, 0, 0, 254, proto, 0, kind, 0, 0, 0, 0]
    }

    #[test]
    fn parses_a_default_route_and_a_multipath_one() {
        let mut b = rtmsg(libc::AF_INET as u8, 0, 16, libc::RTN_UNICAST);
        b.extend(attr(libc::RTA_GATEWAY, &[192, 0, 2, 1]));
        b.extend(attr(libc::RTA_OIF, &2u32.to_ne_bytes()));
        b.extend(attr(libc::RTA_PRIORITY, &100u32.to_ne_bytes()));
        b.extend(attr(libc::RTA_PREFSRC, &[192, 0, 2, 10]));
        let r = parse_route(&b);
        assert_eq!(
            r,
            vec![Route {
                ifindex: 2,
                src: "192.0.2.10".into(),
                dest: "default".into(),
                gw: "192.0.2.1".into(),
                priority: 100,
                proto: "dhcp",
                weight: String::new(),
            }]
        );

        let mut m = rtmsg(libc::AF_INET6 as u8, 64, 4, libc::RTN_UNICAST);
        let dst: [u8; 16] = "2001:db8::".parse::<std::net::Ipv6Addr>().unwrap().octets();
        m.extend(attr(libc::RTA_DST, &dst));
        let mut hops = Vec::new();
        for (idx, weight, gw) in [(3i32, 0u8, "fe80::1"), (4, 4, "fe80::2")] {
            let g = attr(
                libc::RTA_GATEWAY,
                &gw.parse::<std::net::Ipv6Addr>().unwrap().octets(),
            );
            hops.extend(((8 + g.len()) as u16).to_ne_bytes());
            hops.extend([0, weight]);
            hops.extend(idx.to_ne_bytes());
            hops.extend(g);
        }
        m.extend(attr(libc::RTA_MULTIPATH, &hops));
        let r = parse_route(&m);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].ifindex, r[0].gw.as_str(), r[0].weight.as_str()),
            (3, "fe80::1", "1")
        );
        assert_eq!(
            (r[1].ifindex, r[1].dest.as_str(), r[1].weight.as_str()),
            (4, "2001:db8::/64", "5")
        );

        // Local and broadcast routes are not unicast: skipped, as upstream does.
        assert!(parse_route(&rtmsg(libc::AF_INET as u8, 32, 2, libc::RTN_LOCAL)).is_empty());

        let links = HashMap::from([(2, "eth0".to_string()), (3, "eth1".to_string())]);
        let mut out = Exposition::new();
        let mut all = r;
        all.extend(parse_route(&b));
        super::render(&all, &links, &mut out);
        let t = text(out);
        assert!(t.contains("node_network_route_info{dest=\"default\",device=\"eth0\",gw=\"192.0.2.1\",priority=\"100\",proto=\"dhcp\",src=\"192.0.2.10\",weight=\"\"} 1"), "{t}");
        assert!(t.contains("node_network_routes{device=\"\"} 1"), "{t}");
        assert!(t.contains("node_network_routes{device=\"eth1\"} 1"), "{t}");
    }

    /// Against this host's kernel: whatever routes it has parse, and each is counted once.
    #[test]
    fn reads_this_hosts_routes() {
        let c = build(&Paths::default(), &Args::default()).unwrap();
        match render_collector(c.as_ref()) {
            Ok(t) => {
                let infos = t
                    .lines()
                    .filter(|l| l.starts_with("node_network_route_info{"))
                    .count();
                let total: f64 = t
                    .lines()
                    .filter(|l| l.starts_with("node_network_routes{"))
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum();
                assert_eq!(infos as f64, total, "{t}");
            }
            Err(e) => eprintln!("skipped: rtnetlink refused here: {e}"),
        }
    }
}
