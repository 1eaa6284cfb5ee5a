//! Metric names built from kernel names (sysctl keys, slab and lnstat headers), cleaned the way
//! node_exporter cleans them.

/// node_exporter's `SanitizeMetricName`: every run of characters outside `[0-9A-Za-z_]`,
/// together with the underscores around it, becomes one `_` (`net.ipv4.ip_forward` gives
/// `net_ipv4_ip_forward`, `a_-_b` gives `a_b`).
pub fn sanitize_metric_name(name: &str) -> String {
    let bytes = name.as_bytes();
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < bytes.len() {
        // Find the next run of bad characters; its leading underscores join it.
        let start = i;
        let mut j = i;
        while j < bytes.len() && bytes[j] == b'_' {
            j += 1;
        }
        if j < bytes.len() && !ok(bytes[j]) {
            while j < bytes.len() && !ok(bytes[j]) {
                j += 1;
            }
            while j < bytes.len() && bytes[j] == b'_' {
                j += 1;
            }
            out.push('_');
            i = j;
            continue;
        }
        // No bad run here: copy the underscores (if any) and the next good character.
        out.push_str(&name[start..j]);
        i = j;
        if i < bytes.len() {
            // `ok` byte, ASCII: one char.
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
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
}
