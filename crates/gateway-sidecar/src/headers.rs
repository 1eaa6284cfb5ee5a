//! The header work of a reverse proxy: hop-by-hop fields dropped (RFC 9110 §7.6.1),
//! `X-Forwarded-*` added, upgrades recognised, the request target put in origin form.

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

/// Drops the hop-by-hop fields: those `Connection` names and the fixed list.
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

/// Adds the `X-Forwarded-*` fields; `ip` is [`peer_value`] of the client.
pub fn add_forwarded(h: &mut HeaderMap, ip: &HeaderValue, host: Option<HeaderValue>) {
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
    fn forwarded_fields() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        add_forwarded(
            &mut h,
            &peer_value("::ffff:127.0.0.1".parse().unwrap()),
            Some(HeaderValue::from_static("api.example")),
        );
        assert_eq!(h["x-forwarded-for"], "203.0.113.7, 10.0.0.1, 127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "api.example");
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        add_forwarded(&mut h, &peer_value("192.0.2.1".parse().unwrap()), None);
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-for"], "192.0.2.1");
    }
}
