//! Go standard-library behaviour that node_exporter's output depends on, for parsing and
//! cleaning values exactly as it does (the text format, sysfs numbers, invalid UTF-8).

pub use exporter_core::text::go::{go_parse_float, to_valid_utf8};

/// Go's `strconv.ParseUint(strings.TrimSpace(s), 10, 64)`, as node_exporter's and procfs'
/// `ReadUintFromFile` use.
pub fn parse_go_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.starts_with('+') {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.ParseInt(s, 0, 64)`, as procfs' `ValueParser` reads integers (sysctls, zoneinfo): an optional sign, then
/// decimal, `0x`, `0o`, `0b` or leading-`0` octal. (Go also takes `_` between digits with base 0;
/// the kernel never writes one.)
pub fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = go_base_prefix(body);
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if magnitude > i64::MAX as u64 + 1 {
            return None;
        }
        Some((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// The radix and digits of a Go integer literal as `strconv.ParseInt(s, 0, 64)` reads it: `0x`,
/// `0b`, `0o` (either case) or a leading `0` (octal) prefix, else decimal. The sign, if any, is
/// the caller's to strip first.
pub fn go_base_prefix(s: &str) -> (u32, &str) {
    if let Some(d) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (2, d)
    } else if let Some(d) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (8, d)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    }
}

/// Go's `net.IP.String()`: IPv4-mapped IPv6 addresses print as dotted quads.
pub fn go_ip_string(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        v4 => v4.to_string(),
    }
}

/// node_exporter's `SanitizeMetricName`: every run of characters outside `[0-9A-Za-z_]`,
/// together with the underscores around it, becomes one `_`.
pub fn sanitize_metric_name(name: &str) -> String {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < chars.len() {
        // Underscores followed by an invalid run belong to the match.
        let mut j = i;
        while j < chars.len() && chars[j] == '_' {
            j += 1;
        }
        if j < chars.len() && !valid(chars[j]) {
            while j < chars.len() && !valid(chars[j]) {
                j += 1;
            }
            while j < chars.len() && chars[j] == '_' {
                j += 1;
            }
            out.push('_');
            i = j;
        } else {
            out.extend(&chars[i..j.min(chars.len())]);
            if j < chars.len() {
                out.push(chars[j]);
                j += 1;
            }
            i = j;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_node_exporter() {
        assert_eq!(
            sanitize_metric_name("net.ipv4.ip_forward"),
            "net_ipv4_ip_forward"
        );
        assert_eq!(sanitize_metric_name("a_-_b"), "a_b");
        assert_eq!(sanitize_metric_name("a__b"), "a__b");
        assert_eq!(sanitize_metric_name("__x"), "__x");
        assert_eq!(sanitize_metric_name("x.."), "x_");
        assert_eq!(sanitize_metric_name("é1"), "_1");
        assert_eq!(sanitize_metric_name(""), "");
    }

    #[test]
    fn helpers_parse_like_go() {
        assert_eq!(go_parse_float("42000"), Some(42000.0));
        assert_eq!(go_parse_float("-1.5e3"), Some(-1500.0));
        assert_eq!(go_parse_float("+Inf"), Some(f64::INFINITY));
        assert!(go_parse_float("NaN").unwrap().is_nan());
        assert_eq!(go_parse_float("1e400"), None);
        assert_eq!(go_parse_float(" 1"), None);
        assert_eq!(go_parse_float(""), None);
        assert_eq!(parse_go_u64(" 7\n"), Some(7));
        assert_eq!(parse_go_u64("+7"), None);
        assert_eq!(to_valid_utf8(b"ok"), "ok");
        assert_eq!(to_valid_utf8(b"a\xff\xfeb\xffc"), "a\u{FFFD}b\u{FFFD}c");
    }

    #[test]
    fn go_ints() {
        assert_eq!(parse_go_int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_go_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_go_int("9223372036854775808"), None);
        assert_eq!(parse_go_int("18446744073709551615"), None);
        assert_eq!(parse_go_int("0x1f"), Some(31));
        assert_eq!(parse_go_int("-"), None);
        assert_eq!(parse_go_int("--1"), None);
        assert_eq!(parse_go_int("0"), Some(0));
    }

    #[test]
    fn base_prefixes_like_go() {
        assert_eq!(go_base_prefix("0x1F"), (16, "1F"));
        assert_eq!(go_base_prefix("0B101"), (2, "101"));
        assert_eq!(go_base_prefix("0o17"), (8, "17"));
        assert_eq!(go_base_prefix("017"), (8, "17"));
        assert_eq!(go_base_prefix("0"), (10, "0"));
        assert_eq!(go_base_prefix("42"), (10, "42"));
    }
}
