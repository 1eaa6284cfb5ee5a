//! Go standard-library behaviour that node_exporter's output depends on, for parsing and
//! cleaning values exactly as it does (the text format, sysfs numbers, invalid UTF-8).

/// Go's `strings.ToValidUTF8(s, "\u{FFFD}")`: each run of invalid bytes becomes one U+FFFD.
pub fn to_valid_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut last_invalid = false;
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        if !valid.is_empty() {
            out.push_str(valid);
            last_invalid = false;
        }
        if !chunk.invalid().is_empty() {
            if !last_invalid {
                out.push('\u{FFFD}');
            }
            last_invalid = true;
        }
    }
    out
}

/// Go's `strconv.ParseFloat(s, 64)` for the inputs sysfs and the text format produce: Rust
/// accepts the same decimal, exponent, `Inf`/`NaN` spellings, but Go rejects out-of-range
/// values where Rust rounds to infinity.
pub fn go_parse_float(s: &str) -> Option<f64> {
    let v = s.parse::<f64>().ok()?;
    if v.is_infinite() {
        let unsigned = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if unsigned != "inf" && unsigned != "infinity" {
            return None;
        }
    }
    Some(v)
}

/// Go's `strconv.ParseUint(strings.TrimSpace(s), 10, 64)`, as node_exporter's and procfs'
/// `ReadUintFromFile` use.
pub fn parse_go_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.starts_with('+') {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
