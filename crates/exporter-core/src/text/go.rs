//! Go standard-library behaviour the text format depends on: how prometheus/common's parser
//! reads a float and cleans invalid UTF-8. node-exporter's sysfs readers use the same two.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go() {
        assert_eq!(go_parse_float("42000"), Some(42000.0));
        assert_eq!(go_parse_float("-1.5e3"), Some(-1500.0));
        assert_eq!(go_parse_float("+Inf"), Some(f64::INFINITY));
        assert!(go_parse_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(go_parse_float("1e400"), None);
        assert_eq!(go_parse_float(" 1"), None);
        assert_eq!(go_parse_float(""), None);
        assert_eq!(to_valid_utf8(b"ok"), "ok");
        assert_eq!(to_valid_utf8(b"a\xff\xfeb\xffc"), "a\u{FFFD}b\u{FFFD}c");
    }
}
