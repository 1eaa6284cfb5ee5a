//! The header work of a reverse proxy: hop-by-hop fields dropped (RFC 9110 §7.6.1),
//! `X-Forwarded-*` added, upgrades recognised, the request target put in origin form.
//!
//! `Connection` may name further hop-by-hop fields, and RFC 9110 §7.6.1 has a proxy drop them.
//! Go's `httputil.ReverseProxy` does (it keeps `Host` only because Go holds it outside the
//! header map); nginx ignores the list altogether. Both extremes are wrong here: a client that
//! names `Host` made the sidecar send a request with none, and naming `Authorization`,
//! `Cookie` or a load balancer's `X-Forwarded-For` let a client strip what the app relies on
//! (the "hop-by-hop header abuse" of proxies in front of auth). So we follow the RFC, except
//! for [`END_TO_END`]: fields whose meaning is end to end by definition, which no `Connection`
//! list can remove.

use std::net::IpAddr;

use hyper::header::{
    Entry, HeaderMap, HeaderName, HeaderValue, CONNECTION, TE, TRANSFER_ENCODING, UPGRADE,
};
use hyper::http::uri::PathAndQuery;
use hyper::Uri;

/// The request target as an origin server wants it: path and query only.
pub fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(_) if uri.authority().is_none() => uri.clone(),
        Some(pq) => Uri::from(pq.clone()),
        None => Uri::from(PathAndQuery::from_static("/")),
    }
}

/// The `Upgrade` value of a request that asks for one (`Connection: upgrade` + `Upgrade`).
pub fn upgrade_of(h: &HeaderMap) -> Option<HeaderValue> {
    let up = h.get(UPGRADE)?;
    let asks = h
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    asks.then(|| up.clone())
}

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Fields a `Connection` list never removes (see the module docs); compared lowercase, as
/// `HeaderName` stores them.
const END_TO_END: [&str; 13] = [
    "host",
    "authorization",
    "cookie",
    "set-cookie",
    "content-length",
    "content-type",
    "content-encoding",
    "location",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
];

/// Drops the hop-by-hop fields: those `Connection` names (but never [`END_TO_END`] ones) and
/// the fixed list.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    // One pass over the (few) names finds which are present: most requests carry none, most
    // responses only `Connection`, and a lookup per name costs a hash each.
    let fixed: [&HeaderName; 6] = [
        &CONNECTION,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &TE,
        &TRANSFER_ENCODING,
        &UPGRADE,
    ];
    let mut present = [false; 6];
    let mut any = false;
    for name in h.keys() {
        if let Some(i) = fixed.iter().position(|f| *f == name) {
            present[i] = true;
            any = true;
        }
    }
    if !any {
        return;
    }
    if present[0] {
        let named: Vec<HeaderName> = h
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.eq_ignore_ascii_case("keep-alive") && !t.eq_ignore_ascii_case("close"))
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .filter(|n| !END_TO_END.contains(&n.as_str()))
            .collect();
        for n in named {
            h.remove(n);
        }
    }
    for (i, name) in fixed.iter().enumerate() {
        if present[i] {
            h.remove(*name);
        }
    }
}

/// The client address as an `X-Forwarded-For` value (made once per connection).
pub fn peer_value(peer: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&peer.to_canonical().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// The peers whose `X-Forwarded-*` fields are believed (`--proxy.trusted-proxies`): load
/// balancers and ingress controllers in front of the sidecar. None by default, like Express'
/// `trust proxy` and Envoy's `xff_num_trusted_hops: 0`.
#[derive(Clone, Debug, Default)]
pub struct TrustedHops(Vec<(IpAddr, u8)>);

impl TrustedHops {
    /// A comma-separated list of addresses and CIDR blocks (`10.0.0.0/8, ::1`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (addr, len) = match item.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (item, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("{item:?} is not an address or CIDR block"))?;
            let ip = ip.to_canonical();
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= max)
                    .ok_or_else(|| format!("{item:?}: prefix length must be 0 to {max}"))?,
                None => max,
            };
            nets.push((ip, len));
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `peer` is one of the trusted hops.
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.0.iter().any(|&(net, len)| match (net, peer) {
            (IpAddr::V4(n), IpAddr::V4(p)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(p) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(p)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                u128::from(n) & mask == u128::from(p) & mask
            }
            _ => false,
        })
    }
}

/// Adds the `X-Forwarded-*` fields; `ip` is [`peer_value`] of the client. From a `trusted`
/// peer the fields it sent are kept (its `X-Forwarded-For` gets the peer appended); from any
/// other they are replaced with what the sidecar saw itself, and `Forwarded` is dropped, so a
/// client cannot claim HTTPS, another host or another address to the app.
pub fn add_forwarded(
    h: &mut HeaderMap,
    ip: &HeaderValue,
    host: Option<HeaderValue>,
    trusted: bool,
) {
    if !trusted {
        // `insert` replaces every earlier value: one hash per field, this is the common path.
        h.insert(X_FORWARDED_FOR.clone(), ip.clone());
        h.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
        match host {
            Some(host) => {
                h.insert(X_FORWARDED_HOST.clone(), host);
            }
            None => {
                h.remove(&X_FORWARDED_HOST);
            }
        }
        h.remove(&FORWARDED);
        return;
    }
    let xff = {
        let mut prior = h.get_all(&X_FORWARDED_FOR).iter().peekable();
        if prior.peek().is_none() {
            Some(ip.clone())
        } else {
            let mut s = Vec::with_capacity(64);
            for v in prior {
                if !s.is_empty() {
                    s.extend_from_slice(b", ");
                }
                s.extend_from_slice(v.as_bytes());
            }
            s.extend_from_slice(b", ");
            s.extend_from_slice(ip.as_bytes());
            HeaderValue::from_bytes(&s).ok()
        }
    };
    if let Some(v) = xff {
        h.insert(X_FORWARDED_FOR.clone(), v);
    }
    if let Entry::Vacant(e) = h.entry(&X_FORWARDED_PROTO) {
        e.insert(HeaderValue::from_static("http"));
    }
    if let Some(host) = host {
        if let Entry::Vacant(e) = h.entry(&X_FORWARDED_HOST) {
            e.insert(host);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(
            CONNECTION,
            HeaderValue::from_static("keep-alive, X-Trace-Hop"),
        );
        h.insert("x-trace-hop", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(TE, HeaderValue::from_static("trailers"));
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        h.insert("x-kept", HeaderValue::from_static("yes"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn connection_cannot_remove_host_or_end_to_end_fields() {
        // The "hop-by-hop abuse" of a client naming end-to-end fields in `Connection`: Host
        // must survive (hyper would send none), and so must the credentials and the
        // forwarding chain the app relies on.
        let mut h = HeaderMap::new();
        h.insert(
            CONNECTION,
            HeaderValue::from_static("Host, authorization,X-Forwarded-For, cookie, x-hop"),
        );
        h.insert("host", HeaderValue::from_static("api.example"));
        h.insert("authorization", HeaderValue::from_static("Bearer t"));
        h.insert("cookie", HeaderValue::from_static("a=b"));
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        h.insert("content-length", HeaderValue::from_static("3"));
        h.insert("x-hop", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h["host"], "api.example");
        assert_eq!(h["authorization"], "Bearer t");
        assert_eq!(h["cookie"], "a=b");
        assert_eq!(h["x-forwarded-for"], "203.0.113.7");
        assert_eq!(h["content-length"], "3");
        assert!(!h.contains_key("x-hop"));
        assert!(!h.contains_key("connection"));
    }

    #[test]
    fn untrusted_peers_cannot_set_forwarded_fields() {
        let ip = peer_value("192.0.2.9".parse().unwrap());
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.9.9.9"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert("x-forwarded-host", HeaderValue::from_static("evil.example"));
        h.insert(
            "forwarded",
            HeaderValue::from_static("for=10.9.9.9;proto=https"),
        );
        add_forwarded(
            &mut h,
            &ip,
            Some(HeaderValue::from_static("api.example")),
            false,
        );
        assert_eq!(h["x-forwarded-for"], "192.0.2.9");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "api.example");
        assert!(!h.contains_key("forwarded"));
    }

    #[test]
    fn trusted_hops() {
        let t = TrustedHops::parse("10.0.0.0/8, 192.0.2.1,::1/128").unwrap();
        assert!(t.contains("10.1.2.3".parse().unwrap()));
        assert!(t.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(t.contains("192.0.2.1".parse().unwrap()));
        assert!(!t.contains("192.0.2.2".parse().unwrap()));
        assert!(t.contains("::1".parse().unwrap()));
        assert!(!TrustedHops::default().contains("127.0.0.1".parse().unwrap()));
        assert!(TrustedHops::parse("10.0.0.0/33").is_err());
        assert!(TrustedHops::parse("nope").is_err());
        assert!(TrustedHops::parse("").unwrap().is_empty());
    }

    #[test]
    fn forwarded_fields() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        add_forwarded(
            &mut h,
            &peer_value("::ffff:127.0.0.1".parse().unwrap()),
            Some(HeaderValue::from_static("api.example")),
            true,
        );
        assert_eq!(h["x-forwarded-for"], "203.0.113.7, 10.0.0.1, 127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "api.example");
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        add_forwarded(
            &mut h,
            &peer_value("192.0.2.1".parse().unwrap()),
            None,
            true,
        );
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-for"], "192.0.2.1");
    }
}
