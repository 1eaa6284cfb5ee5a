//! `http_server_config.headers`: the few response headers upstream lets a config set.

use hyper::header::{HeaderName, HeaderValue};

use super::schema::RawHttp;

/// The headers upstream lets a config set, with the only values it allows where it restricts
/// them. Private on purpose upstream "to ensure consistency in the Prometheus ecosystem".
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

pub(super) fn build_headers(
    http: Option<&RawHttp>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut out = Vec::new();
    let Some(headers) = http.and_then(|h| h.headers.as_ref()) else {
        return Ok(out);
    };
    for (name, value) in headers {
        let value = value.as_deref().unwrap_or("");
        // Exact, case-sensitive names, as upstream's map lookup.
        let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| n == name) else {
            return Err(format!(
                "http_server_config: HTTP header {name:?} can not be configured (allowed: {})",
                ALLOWED_HEADERS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if !allowed.is_empty() && !allowed.contains(&value) {
            return Err(format!(
                "http_server_config: invalid value for {name}: expected one of {allowed:?}, got {value:?}"
            ));
        }
        // The documented "unset if blank".
        if value.is_empty() {
            continue;
        }
        let hv = HeaderValue::from_str(value).map_err(|_| {
            format!(
                "http_server_config: header {name}: value {value:?} is not a valid header value"
            )
        })?;
        let hn = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("http_server_config: bad header name {name:?}"))?;
        out.push((hn, hv));
    }
    Ok(out)
}
