//! The `supervisord` collector (off by default, deprecated upstream): every process supervisord
//! manages, from one `supervisor.getAllProcessInfo` XML-RPC call per scrape on
//! `--collector.supervisord.url` (also `$SUPERVISORD_URL`), as node_exporter's `supervisord.go`.
//!
//! `unix:///path/to.sock` talks HTTP over supervisord's Unix socket, as upstream does; a
//! `user:password@` in an http URL is sent as basic auth (Go's HTTP client does the same) and
//! never logged.

use std::time::Duration;

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectResult, Collector, Paths};
use crate::sys::http::{post, Target};

#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
pub struct Args {
    /// XML RPC endpoint.
    #[arg(
        long = "collector.supervisord.url",
        env = "SUPERVISORD_URL",
        default_value = "http://localhost:9001/RPC2",
        hide_env_values = true
    )]
    pub supervisord_url: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            supervisord_url: "http://localhost:9001/RPC2".into(),
        }
    }
}

pub fn build(_paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let endpoint = parse_url(&args.supervisord_url)
        .map_err(|e| UsageError::new(format!("--collector.supervisord.url: {e}")))?;
    tracing::warn!(
        collector = "supervisord",
        "This collector is deprecated and will be removed in the next major version release."
    );
    Ok(Box::new(Supervisord { endpoint }))
}

/// Where and how to call.
#[derive(Debug, PartialEq)]
pub struct Endpoint {
    target: Target,
    host: String,
    path: String,
    authorization: Option<String>,
}

/// Splits `http://[user:pass@]host[:port][/path]` or `unix:///socket/path`.
pub fn parse_url(url: &str) -> Result<Endpoint, String> {
    if let Some(path) = url.strip_prefix("unix://") {
        // Like upstream: HTTP to host "unix", path /RPC2, over the socket.
        return Ok(Endpoint {
            target: Target::Unix(path.into()),
            host: "unix".into(),
            path: "/RPC2".into(),
            authorization: None,
        });
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or("want an http:// or unix:// URL")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if host.is_empty() {
        return Err("no host in the URL".into());
    }
    let addr = if host.starts_with('[') {
        if host.contains("]:") {
            host.to_string()
        } else {
            format!("{host}:80")
        }
    } else if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let authorization = userinfo.map(|u| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(percent_decode(u))
        )
    });
    Ok(Endpoint {
        target: Target::Tcp(addr),
        host: host.to_string(),
        path: path.to_string(),
        authorization,
    })
}

/// `%XX` escapes of a URL's user information.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

struct Supervisord {
    endpoint: Endpoint,
}

const CALL: &str = "<?xml version=\"1.0\"?>\n<methodCall><methodName>supervisor.getAllProcessInfo</methodName><params></params></methodCall>";

impl Collector for Supervisord {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let e = &self.endpoint;
        let (status, body) = post(
            &e.target,
            &e.host,
            &e.path,
            e.authorization.as_deref(),
            "text/xml",
            CALL.as_bytes().to_vec(),
            Duration::from_secs(10),
        )
        .map_err(|err| anyhow::anyhow!("unable to call supervisord: {err:#}"))?;
        if status != 200 {
            return Err(anyhow::anyhow!("unable to call supervisord: HTTP status {status}").into());
        }
        let text = std::str::from_utf8(&body)
            .map_err(|_| anyhow::anyhow!("unable to call supervisord: answer is not UTF-8"))?;
        let procs = parse_process_info(text)
            .map_err(|err| anyhow::anyhow!("unable to call supervisord: {err}"))?;
        render(&procs, out);
        Ok(())
    }
}

/// What the metrics need of one process.
#[derive(Debug, Default, PartialEq)]
pub struct Process {
    pub name: String,
    pub group: String,
    pub start: i64,
    pub state: i64,
    pub exit_status: i64,
}

fn render(procs: &[Process], out: &mut Exposition) {
    for p in procs {
        let labels = [("name", p.name.as_str()), ("group", p.group.as_str())];
        // STARTING, RUNNING and STOPPING count as up, as upstream's isRunning.
        let running = matches!(p.state, 10 | 20 | 40);
        out.family("node_supervisord_state", "Process State", MetricType::Gauge)
            .sample(&labels, p.state as f64);
        out.family(
            "node_supervisord_exit_status",
            "Process Exit Status",
            MetricType::Gauge,
        )
        .sample(&labels, p.exit_status as f64);
        out.family("node_supervisord_up", "Process Up", MetricType::Gauge)
            .sample(&labels, if running { 1.0 } else { 0.0 });
        if running {
            out.family(
                "node_supervisord_start_time_seconds",
                "Process start time",
                MetricType::Counter,
            )
            .sample(&labels, p.start as f64);
        }
    }
}

/// Reads a `getAllProcessInfo` answer: an array of structs. A `<fault>` is an error carrying
/// its faultString.
pub fn parse_process_info(xml: &str) -> Result<Vec<Process>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("bad XML-RPC answer: {e}"))?;
    let root = doc.root_element();
    if let Some(fault) = root.children().find(|n| n.has_tag_name("fault")) {
        let text: String = fault
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .join(" ");
        return Err(format!(
            "XML-RPC fault: {}",
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
    }
    let data = root
        .descendants()
        .find(|n| n.has_tag_name("array"))
        .and_then(|a| a.children().find(|n| n.has_tag_name("data")))
        .ok_or("no array in the XML-RPC answer")?;
    let mut procs = Vec::new();
    for value in data.children().filter(|n| n.has_tag_name("value")) {
        let Some(st) = value.children().find(|n| n.has_tag_name("struct")) else {
            return Err("an array element is not a struct".into());
        };
        let mut p = Process::default();
        for member in st.children().filter(|n| n.has_tag_name("member")) {
            let name = member
                .children()
                .find(|n| n.has_tag_name("name"))
                .and_then(|n| n.text())
                .unwrap_or("");
            let Some(v) = member.children().find(|n| n.has_tag_name("value")) else {
                continue;
            };
            match name {
                "name" => p.name = string_value(v),
                "group" => p.group = string_value(v),
                "start" => p.start = int_value(v)?,
                "state" => p.state = int_value(v)?,
                "exitstatus" => p.exit_status = int_value(v)?,
                _ => {}
            }
        }
        procs.push(p);
    }
    Ok(procs)
}

/// `<value><string>x</string></value>`, or a bare `<value>x</value>` (XML-RPC's default type).
fn string_value(v: roxmltree::Node) -> String {
    match v.children().find(|n| n.is_element()) {
        Some(typed) => typed.text().unwrap_or("").to_string(),
        None => v.text().unwrap_or("").to_string(),
    }
}

fn int_value(v: roxmltree::Node) -> Result<i64, String> {
    let typed = v
        .children()
        .find(|n| n.has_tag_name("int") || n.has_tag_name("i4") || n.has_tag_name("i8"))
        .ok_or("expected an integer")?;
    let t = typed.text().unwrap_or("").trim();
    t.parse().map_err(|_| format!("bad integer {t:?}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::text;

    #[test]
    fn parses_urls() {
        let e = parse_url("http://localhost:9001/RPC2").unwrap();
        assert_eq!(e.target, Target::Tcp("localhost:9001".into()));
        assert_eq!(
            (e.host.as_str(), e.path.as_str()),
            ("localhost:9001", "/RPC2")
        );
        assert_eq!(e.authorization, None);
        let e = parse_url("http://user:p%40ss@127.0.0.1/RPC2").unwrap();
        assert_eq!(e.target, Target::Tcp("127.0.0.1:80".into()));
        assert_eq!(e.authorization.as_deref(), Some("Basic dXNlcjpwQHNz"));
        let e = parse_url("unix:///run/supervisor.sock").unwrap();
        assert_eq!(e.target, Target::Unix("/run/supervisor.sock".into()));
        assert!(parse_url("https://x/RPC2").is_err());
        assert!(parse_url("http:///RPC2").is_err());
    }

    /// The shape of supervisord 4.2's answer (Debian 12), trimmed to two processes.
    const ANSWER: &str = r#"<?xml version='1.0'?>
<methodResponse>
<params>
<param>
<value><array><data>
<value><struct>
<member>
<name>description</name>
<value><string>pid 4242, uptime 0:00:05</string></value>
</member>
<member>
<name>pid</name>
<value><int>4242</int></value>
</member>
<member>
<name>stderr_logfile</name>
<value><string></string></value>
</member>
<member>
<name>stop</name>
<value><int>0</int></value>
</member>
<member>
<name>name</name>
<value><string>sleeper</string></value>
</member>
<member>
<name>exitstatus</name>
<value><int>0</int></value>
</member>
<member>
<name>start</name>
<value><int>1765100000</int></value>
</member>
<member>
<name>state</name>
<value><int>20</int></value>
</member>
<member>
<name>group</name>
<value><string>sleepers</string></value>
</member>
</struct></value>
<value><struct>
<member><name>name</name><value><string>failer &amp; co</string></value></member>
<member><name>group</name><value>failer</value></member>
<member><name>start</name><value><int>1765100001</int></value></member>
<member><name>state</name><value><int>100</int></value></member>
<member><name>exitstatus</name><value><int>3</int></value></member>
</struct></value>
</data></array></value>
</param>
</params>
</methodResponse>
"#;

    #[test]
    fn parses_and_renders_the_answer() {
        let procs = parse_process_info(ANSWER).unwrap();
        assert_eq!(procs.len(), 2);
        assert_eq!(procs[1].name, "failer & co");
        let mut out = Exposition::new();
        render(&procs, &mut out);
        let t = text(out);
        assert!(
            t.contains("node_supervisord_up{group=\"sleepers\",name=\"sleeper\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("node_supervisord_start_time_seconds{group=\"sleepers\",name=\"sleeper\"} 1.7651e+09\n"), "{t}");
        assert!(
            t.contains("node_supervisord_up{group=\"failer\",name=\"failer & co\"} 0\n"),
            "{t}"
        );
        assert!(
            t.contains("node_supervisord_exit_status{group=\"failer\",name=\"failer & co\"} 3\n"),
            "{t}"
        );
        assert!(
            t.contains("# TYPE node_supervisord_start_time_seconds counter\n"),
            "{t}"
        );
        assert!(
            !t.contains("node_supervisord_start_time_seconds{group=\"failer\""),
            "{t}"
        );
    }

    #[test]
    fn a_fault_is_an_error() {
        let fault = "<?xml version='1.0'?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value><string>UNKNOWN_METHOD</string></value></member></struct></value></fault></methodResponse>";
        let e = parse_process_info(fault).unwrap_err();
        assert!(e.contains("UNKNOWN_METHOD"), "{e}");
    }
}
