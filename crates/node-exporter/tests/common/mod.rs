//! Shared by the integration tests: start an exporter binary on a free 127.0.0.1 port (killed
//! when dropped, even if the test panics), fetch a path over plain HTTP/1.1, and parse the
//! Prometheus text format into families.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port the kernel just handed out and released. Another process may take it before ours
/// binds it; [`Daemon::start`] retries on another port when the bind fails.
pub fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// A running exporter; killed and reaped on drop.
pub struct Daemon {
    pub name: String,
    pub port: u16,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts `bin args... --web.listen-address=127.0.0.1:<free port>` in `cwd` and waits until
    /// it answers HTTP. Stdout and stderr go to a log file, shown by [`Daemon::log`].
    pub fn start(
        name: &str,
        bin: &Path,
        args: &[String],
        cwd: Option<&Path>,
    ) -> Result<Self, String> {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
            let log = dir.path().join(format!("{name}.log"));
            let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            let err = out.try_clone().map_err(|e| format!("log: {e}"))?;
            let mut cmd = Command::new(bin);
            cmd.args(args)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err);
            if let Some(cwd) = cwd {
                cmd.current_dir(cwd);
            }
            let child = cmd
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
            let mut d = Daemon {
                name: name.to_string(),
                port,
                child,
                log,
                _dir: dir,
            };
            match d.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return Ok(d),
                Err(e) => {
                    let log = d.log();
                    last_err = format!("{name} did not start: {e}\n--- {name} log ---\n{log}");
                    if !log.contains("address already in use") {
                        return Err(last_err);
                    }
                    // Someone took the port between free_port() and the bind: try another.
                }
            }
        }
        Err(last_err)
    }

    fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}"));
            }
            if http_get(self.port, "/", Duration::from_secs(2)).is_ok() {
                return Ok(());
            }
            if start.elapsed() > within {
                return Err(format!("no HTTP answer within {within:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET `path` (e.g. `/metrics`, `/metrics?collect[]=cpu`).
    pub fn get(&self, path: &str) -> Result<Response, String> {
        http_get(self.port, path, Duration::from_secs(60))
            .map_err(|e| format!("GET {path} from {}: {e}", self.name))
    }

    /// GET `path`, require 200, return the body as text.
    pub fn scrape(&self, path: &str) -> String {
        let r = self
            .get(path)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.log()));
        assert_eq!(
            r.status,
            200,
            "GET {path} from {}: {}\n{}",
            self.name,
            r.text(),
            self.log()
        );
        r.text()
    }

    /// What the daemon has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `bin` accepts `flags` (e.g. `--no-collector.netdev.netlink`): runs
/// `bin <flags> --version`, which both node_exporter and ours answer with exit 0 when every
/// flag before it parses, and reject with a usage error otherwise.
pub fn accepts_flags(bin: &Path, flags: &[&str]) -> bool {
    Command::new(bin)
        .args(flags)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A minimal HTTP/1.1 GET on 127.0.0.1 (`Connection: close`, no compression), enough for an
/// exporter: reads to EOF and undoes chunked transfer encoding (Go's net/http uses it).
pub fn http_get(port: u16, path: &str, timeout: Duration) -> std::io::Result<Response> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: node-exporter-tests\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// One metric family of a text exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: Option<String>,
    /// `counter`, `gauge`, `untyped`, `summary`, `histogram`; `untyped` when no TYPE line.
    pub kind: String,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's own name (`x_bucket`, `x_sum` for histograms).
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// As written (`1.5e+06`, `NaN`, `+Inf`).
    pub value: String,
}

impl Sample {
    pub fn value_f64(&self) -> f64 {
        match self.value.as_str() {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        }
    }
}

impl Family {
    /// The label names of all its samples (histogram `le` and summary `quantile` excluded).
    pub fn label_names(&self) -> BTreeSet<String> {
        self.samples
            .iter()
            .flat_map(|s| s.labels.keys())
            .filter(|k| !(k.as_str() == "le" && self.kind == "histogram"))
            .filter(|k| !(k.as_str() == "quantile" && self.kind == "summary"))
            .cloned()
            .collect()
    }

    /// The values of label `name` over all samples.
    pub fn label_values(&self, name: &str) -> BTreeSet<String> {
        self.samples
            .iter()
            .filter_map(|s| s.labels.get(name).cloned())
            .collect()
    }
}

pub type Families = BTreeMap<String, Family>;

/// Parses the text format (version 0.0.4). Samples are attached to the family of the
/// preceding HELP/TYPE lines when their name is that family's or, for histograms and
/// summaries, that name plus `_bucket`, `_sum` or `_count`; otherwise to an untyped family of
/// their own name.
pub fn parse(text: &str) -> Result<Families, String> {
    let mut fams: Families = BTreeMap::new();
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let err = |m: &str| format!("line {}: {m}: {line:?}", i + 1);
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            let (kw, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            if kw != "HELP" && kw != "TYPE" {
                continue; // a comment
            }
            let (name, arg) = rest.split_once(' ').unwrap_or((rest, ""));
            if name.is_empty() {
                return Err(err("HELP/TYPE without a name"));
            }
            let fam = fams.entry(name.to_string()).or_insert_with(|| Family {
                name: name.to_string(),
                help: None,
                kind: "untyped".into(),
                samples: vec![],
            });
            if kw == "HELP" {
                if fam.help.is_some() {
                    return Err(err("second HELP for the family"));
                }
                fam.help = Some(unescape(arg, false));
            } else {
                fam.kind = arg.trim().to_string();
            }
            current = Some(name.to_string());
            continue;
        }
        let sample = parse_sample(line).map_err(|m| err(&m))?;
        let family = match &current {
            Some(c) if belongs(&sample.name, c, &fams[c].kind) => c.clone(),
            _ => {
                current = None;
                sample.name.clone()
            }
        };
        fams.entry(family.clone())
            .or_insert_with(|| Family {
                name: family,
                help: None,
                kind: "untyped".into(),
                samples: vec![],
            })
            .samples
            .push(sample);
    }
    Ok(fams)
}

fn belongs(sample: &str, family: &str, kind: &str) -> bool {
    if sample == family {
        return true;
    }
    let suffixes: &[&str] = match kind {
        "histogram" => &["_bucket", "_sum", "_count"],
        "summary" => &["_sum", "_count"],
        _ => &[],
    };
    suffixes
        .iter()
        .any(|s| sample.strip_suffix(s) == Some(family))
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut r = r;
        loop {
            r = r.trim_start();
            if let Some(after) = r.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = r.find('=').ok_or("label without =")?;
            let lname = r[..eq].trim();
            if !valid_name(lname) {
                return Err(format!("bad label name {lname:?}"));
            }
            r = r[eq + 1..].trim_start();
            let r2 = r.strip_prefix('"').ok_or("label value not quoted")?;
            let (value, after) = take_quoted(r2).ok_or("unterminated label value")?;
            if labels.insert(lname.to_string(), value).is_some() {
                return Err(format!("label {lname} twice"));
            }
            r = after.trim_start();
            if let Some(after) = r.strip_prefix(',') {
                r = after;
            } else if !r.starts_with('}') {
                return Err("expected , or }".into());
            }
        }
    }
    let mut parts = rest.split_whitespace();
    let value = parts.next().ok_or("no value")?.to_string();
    if value != "NaN" && value != "+Inf" && value != "-Inf" && value.parse::<f64>().is_err() {
        return Err(format!("bad value {value:?}"));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The value up to the closing quote (escapes undone) and what follows the quote.
fn take_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            c => out.push(c),
        }
    }
    None
}

fn unescape(s: &str, quotes: bool) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some('"') if quotes => out.push('"'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn valid_name(n: &str) -> bool {
    let mut cs = n.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `node_scrape_collector_success` as collector -> succeeded.
pub fn collector_success(f: &Families) -> BTreeMap<String, bool> {
    f.get("node_scrape_collector_success")
        .map(|fam| {
            fam.samples
                .iter()
                .filter_map(|s| {
                    let c = s.labels.get("collector")?;
                    Some((c.clone(), s.value_f64() == 1.0))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `*` at the end of a pattern matches any suffix; otherwise the names must be equal.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// A line diff of `want` and `got` (longest common subsequence), at most `max` lines shown.
pub fn diff(want: &str, got: &str, max: usize) -> String {
    let a: Vec<&str> = want.lines().collect();
    let b: Vec<&str> = got.lines().collect();
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: the common subsequence length of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    let mut changed = 0;
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+{}", b[j]));
            j += 1;
            changed += 1;
        } else {
            out.push(format!("-{}", a[i]));
            i += 1;
            changed += 1;
        }
    }
    let shown = out.len().min(max);
    let mut s = out[..shown].join("\n");
    if out.len() > max {
        s.push_str(&format!("\n... ({} changed lines in all)", changed));
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_families_labels_and_histograms() {
        let text = "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\\\\\\n\"} 3\n\
                    # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n\
                    loose 1.5e+06\n";
        let f = parse(text).unwrap();
        assert_eq!(f["a_total"].kind, "counter");
        assert_eq!(f["a_total"].help.as_deref(), Some("Things."));
        assert_eq!(f["a_total"].samples[0].labels["y"], "q\"\\\n");
        assert_eq!(f["h"].samples.len(), 4);
        assert!(f["h"].label_names().is_empty());
        assert_eq!(f["loose"].kind, "untyped");
        assert_eq!(f["loose"].samples[0].value_f64(), 1.5e6);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("a{b=c} 1\n").is_err());
        assert!(parse("a 1x\n").is_err());
    }

    #[test]
    fn diffs_lines() {
        assert_eq!(diff("a\nb\nc\n", "a\nc\nd\n", 10), "-b\n+d");
    }
}
