//! The app's own metrics, merged after ours on a scrape (`--upstream.metrics-path`): fetched
//! through the sidecar's upstream client, and filtered so no family appears twice.
//!
//! The filter works line by line rather than through `exporter_core::text::parser`: the app's
//! text is passed on as the app wrote it, minus whole families that are ours. The strict parser
//! refuses a whole input for one line expfmt would refuse (a missing final newline, `\r\n` line
//! ends, blanks after a value, a TYPE after samples), and the sidecar would then drop every app
//! metric it passes on today.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{HeaderValue, ACCEPT, ACCEPT_ENCODING, HOST};
use hyper::{Request, Uri};

use crate::upstream::Client;

/// GETs `path` (origin form, e.g. `/metrics`) from the upstream whose `Host` is `host`, within
/// `timeout`. The app's exposition is read whole (it is the app's, not a client's), capped.
pub async fn fetch(
    client: &Client<Empty<Bytes>>,
    host: &HeaderValue,
    path: &str,
    timeout: Duration,
) -> anyhow::Result<String> {
    let uri: Uri = path.parse()?;
    let req = Request::get(uri)
        .header(HOST, host.clone())
        .header(ACCEPT, "text/plain;version=0.0.4;q=1,*/*;q=0.1")
        .header(ACCEPT_ENCODING, "identity")
        .body(Empty::<Bytes>::new())?;
    let fut = async {
        let (resp, sender) = client
            .send(req)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        if !resp.status().is_success() {
            anyhow::bail!("status {}", resp.status());
        }
        let body = Limited::new(resp.into_body(), 32 << 20)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading: {e}"))?
            .to_bytes();
        // Read whole: the connection can serve the next scrape.
        client.put(sender);
        Ok(String::from_utf8(body.to_vec())?)
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| anyhow::anyhow!("timed out after {timeout:?}"))?
}

/// The app's exposition without the families that are ours (`taken`), so the merged output
/// never has a family twice. A sample belongs to the family of the `# TYPE`/`# HELP` before it
/// when its name is that family's name plus a histogram or summary suffix.
pub fn filter(text: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut family = String::new();
    let mut drop_family = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.is_empty() {
            continue;
        }
        if let Some(rest) = t.strip_prefix('#') {
            let mut words = rest.split_whitespace();
            match words.next() {
                Some("HELP") | Some("TYPE") | Some("UNIT") => {
                    let name = words.next().unwrap_or("");
                    if name != family {
                        family = name.to_string();
                        drop_family = taken(&family);
                    }
                    if !drop_family {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
                // `# EOF` (OpenMetrics) and plain comments: not ours to pass on.
                _ => {}
            }
            continue;
        }
        let name_end = t
            .find(|c: char| c == '{' || c.is_whitespace())
            .unwrap_or(t.len());
        let name = &t[..name_end];
        let in_family = !family.is_empty()
            && (name == family
                || name.strip_prefix(family.as_str()).is_some_and(|s| {
                    matches!(s, "_bucket" | "_sum" | "_count" | "_total" | "_created")
                }));
        let dropped = if in_family {
            drop_family
        } else {
            family.clear();
            drop_family = false;
            taken(name)
        };
        if !dropped {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn app_metrics_lose_our_families_only() {
        let app = "# HELP http_requests_total Total.\n# TYPE http_requests_total counter\n\
                   http_requests_total{route=\"/a\"} 3\n\
                   # HELP http_request_duration_seconds D.\n# TYPE http_request_duration_seconds histogram\n\
                   http_request_duration_seconds_bucket{le=\"+Inf\"} 1\nhttp_request_duration_seconds_sum 0.1\n\
                   http_request_duration_seconds_count 1\n\
                   # HELP process_cpu_seconds_total CPU.\n# TYPE process_cpu_seconds_total counter\n\
                   process_cpu_seconds_total 1.5\n\
                   # HELP nodejs_heap_size_total_bytes Heap.\n# TYPE nodejs_heap_size_total_bytes gauge\n\
                   nodejs_heap_size_total_bytes 1e+07\n\
                   untyped_thing 4\n# EOF\n";
        let taken = |n: &str| {
            n == "http_requests_total"
                || n == "http_request_duration_seconds"
                || n.starts_with("process_")
        };
        let out = filter(app, &taken);
        assert_eq!(
            out,
            "# HELP nodejs_heap_size_total_bytes Heap.\n# TYPE nodejs_heap_size_total_bytes gauge\n\
             nodejs_heap_size_total_bytes 1e+07\nuntyped_thing 4\n"
        );
    }
}
