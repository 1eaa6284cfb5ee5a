//! A strict parser of the Prometheus text format (0.0.4), as strict as prometheus/common's
//! `expfmt` with legacy name validation: a file that node_exporter's textfile collector rejects
//! must be rejected here too (a missing final newline, trailing blanks after a value, `\r\n`
//! line ends, a second HELP or TYPE line, a TYPE after samples, unknown escapes, invalid UTF-8
//! in label values). No crate is as strict, hence this one.

use std::collections::HashMap;

use super::go::{go_parse_float, to_valid_utf8};
use super::MetricType;

/// A family's `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Untyped,
    Summary,
    Histogram,
    /// Accepted by the TYPE line; samples of it are an error.
    GaugeHistogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Untyped => "untyped",
            Kind::Summary => "summary",
            Kind::Histogram => "histogram",
            Kind::GaugeHistogram => "gaugehistogram",
        }
    }

    pub fn metric_type(self) -> MetricType {
        match self {
            Kind::Counter => MetricType::Counter,
            Kind::Gauge => MetricType::Gauge,
            Kind::Summary => MetricType::Summary,
            Kind::Histogram => MetricType::Histogram,
            Kind::Untyped | Kind::GaugeHistogram => MetricType::Untyped,
        }
    }
}

/// The value of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    Simple(f64),
    Summary {
        count: u64,
        sum: f64,
        quantiles: Vec<(f64, f64)>,
    },
    Histogram {
        count: u64,
        sum: f64,
        buckets: Vec<(f64, u64)>,
    },
}

/// One series: its labels in file order (without `quantile`/`le` of summaries/histograms).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub labels: Vec<(String, String)>,
    pub sample: Sample,
    pub timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: Option<String>,
    pub kind: Option<Kind>,
    pub metrics: Vec<Metric>,
}

/// Why a file is not valid text format, with expfmt's wording.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "text format parsing error in line {}: {}",
            self.line, self.msg
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses the Prometheus text format (0.0.4) with expfmt's rules; families without samples are
/// dropped; the result is sorted by name.
pub fn parse_text(input: &[u8]) -> Result<Vec<Family>, ParseError> {
    let mut p = TextParser::default();
    let mut segments = input.split(|&b| b == b'\n').peekable();
    let mut line = 0;
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        line += 1;
        if last {
            // Bytes after the final newline: only blanks may end a file.
            if seg.iter().all(|&b| b == b' ' || b == b'\t') {
                break;
            }
            p.line(seg).map_err(|msg| ParseError { line, msg })?;
            return Err(ParseError {
                line,
                msg: "unexpected end of input stream".into(),
            });
        }
        p.line(seg).map_err(|msg| ParseError { line, msg })?;
    }
    let mut families: Vec<Family> = p
        .families
        .into_iter()
        .filter(|f| !f.metrics.is_empty())
        .collect();
    families.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(families)
}

#[derive(Default)]
struct TextParser {
    families: Vec<Family>,
    by_name: HashMap<String, usize>,
    /// Summary/histogram series by family and sorted labels: their lines add to one series.
    grouped: HashMap<(usize, Vec<(String, String)>), usize>,
}

/// What a sample's name resolved to: a family, and whether it is that summary's or histogram's
/// `_count` or `_sum` line.
struct Target {
    family: usize,
    count: bool,
    sum: bool,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn at_blank(&self) -> bool {
        matches!(self.peek(), Some(b' ' | b'\t'))
    }

    fn skip_blanks(&mut self) {
        while self.at_blank() {
            self.pos += 1;
        }
    }

    /// Bytes up to the next blank or the end of the line.
    fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while !self.at_end() && !self.at_blank() {
            self.pos += 1;
        }
        &self.bytes[start..self.pos]
    }

    fn rest(&mut self) -> &'a [u8] {
        let r = &self.bytes[self.pos..];
        self.pos = self.bytes.len();
        r
    }

    /// The current byte as expfmt's `%q` of a byte shows it; the end of a line is its newline.
    fn found(&self) -> String {
        format!("{:?}", self.peek().map(char::from).unwrap_or('\n'))
    }
}

fn lossy(b: &[u8]) -> String {
    to_valid_utf8(b)
}

fn legacy_metric_name(s: &str) -> bool {
    let mut it = s.bytes();
    matches!(it.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && it.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn legacy_label_name(s: &str) -> bool {
    let mut it = s.bytes();
    matches!(it.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && it.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A float as the text format allows it: Go's `ParseFloat`, without hex floats and `_`.
fn parse_value(s: &str) -> Option<f64> {
    if s.contains(['p', 'P', '_']) {
        return None;
    }
    go_parse_float(s)
}

impl TextParser {
    fn line(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut c = Cursor { bytes, pos: 0 };
        c.skip_blanks();
        match c.peek() {
            None => Ok(()),
            Some(b'#') => self.comment(&mut c),
            Some(b'{') => self.braced_sample(&mut c),
            Some(_) => self.sample(&mut c),
        }
    }

    /// The family a name refers to: itself, or the summary/histogram it is the `_count`,
    /// `_sum` (or `_bucket`) line of; created when new.
    fn resolve(&mut self, name: &str) -> Target {
        let plain = |family| Target {
            family,
            count: false,
            sum: false,
        };
        if let Some(&i) = self.by_name.get(name) {
            return plain(i);
        }
        let is_count = name.len() > 6 && name.ends_with("_count");
        let is_sum = name.len() > 4 && name.ends_with("_sum");
        let is_bucket = name.len() > 7 && name.ends_with("_bucket");
        let cut = |n: usize| &name[..name.len() - n];
        let summary = if is_count {
            cut(6)
        } else if is_sum {
            cut(4)
        } else {
            name
        };
        if let Some(&i) = self.by_name.get(summary) {
            if self.families[i].kind == Some(Kind::Summary) {
                return Target {
                    family: i,
                    count: is_count,
                    sum: is_sum,
                };
            }
        }
        let histogram = if is_count {
            cut(6)
        } else if is_sum {
            cut(4)
        } else if is_bucket {
            cut(7)
        } else {
            name
        };
        if let Some(&i) = self.by_name.get(histogram) {
            if self.families[i].kind == Some(Kind::Histogram) {
                return Target {
                    family: i,
                    count: is_count,
                    sum: is_sum,
                };
            }
        }
        self.families.push(Family {
            name: name.to_string(),
            help: None,
            kind: None,
            metrics: Vec::new(),
        });
        self.by_name
            .insert(name.to_string(), self.families.len() - 1);
        plain(self.families.len() - 1)
    }

    /// A metric name (`metric`) or label name at the cursor: the unquoted characters allowed,
    /// or a quoted name. Empty when the first byte cannot start one.
    fn name(c: &mut Cursor<'_>, metric: bool) -> Result<String, String> {
        let allowed = |b: u8, first: bool| {
            b.is_ascii_alphabetic()
                || b == b'_'
                || (metric && b == b':')
                || (!first && b.is_ascii_digit())
        };
        match c.peek() {
            Some(b'"') => {
                c.pos += 1;
                let mut out = Vec::new();
                loop {
                    match c.peek() {
                        None => {
                            let what = if metric { "metric" } else { "label" };
                            return Err(format!(
                                "{what} name {:?} contains unescaped new-line",
                                lossy(&out)
                            ));
                        }
                        Some(b'"') => {
                            c.pos += 1;
                            break;
                        }
                        Some(b'\\') => {
                            c.pos += 1;
                            match c.peek() {
                                Some(b'\\') => out.push(b'\\'),
                                Some(b'n') => out.push(b'\n'),
                                Some(b'"') => out.extend_from_slice(b"\\\""),
                                _ => {
                                    return Err(format!(
                                        "invalid escape sequence '\\{}'",
                                        c.peek().map(char::from).unwrap_or('\n')
                                    ))
                                }
                            }
                            c.pos += 1;
                        }
                        Some(b) => {
                            out.push(b);
                            c.pos += 1;
                        }
                    }
                }
                let name = lossy(&out);
                let valid = if metric {
                    legacy_metric_name(&name)
                } else {
                    legacy_label_name(&name)
                };
                if !valid {
                    let what = if metric { "metric" } else { "label" };
                    return Err(format!("invalid {what} name {name:?}"));
                }
                Ok(name)
            }
            Some(b) if allowed(b, true) => {
                let start = c.pos;
                while matches!(c.peek(), Some(b) if allowed(b, false)) {
                    c.pos += 1;
                }
                Ok(lossy(&c.bytes[start..c.pos]))
            }
            _ => Ok(String::new()),
        }
    }

    fn comment(&mut self, c: &mut Cursor<'_>) -> Result<(), String> {
        c.pos += 1;
        c.skip_blanks();
        let keyword = c.token();
        if c.at_end() || (keyword != b"HELP" && keyword != b"TYPE") {
            // A bare keyword, or an ordinary comment.
            return Ok(());
        }
        c.skip_blanks();
        let name = Self::name(c, true)?;
        if c.at_end() {
            return Ok(());
        }
        if !c.at_blank() {
            return Err("invalid metric name in comment".into());
        }
        let target = self.resolve(&name);
        c.skip_blanks();
        if c.at_end() {
            return Ok(());
        }
        let fam = &mut self.families[target.family];
        if keyword == b"HELP" {
            if fam.help.is_some() {
                return Err(format!("second HELP line for metric name {:?}", fam.name));
            }
            let mut out = Vec::new();
            let rest = c.rest();
            let mut i = 0;
            while i < rest.len() {
                match rest[i] {
                    b'\\' => {
                        match rest.get(i + 1) {
                            Some(b'\\') => out.push(b'\\'),
                            Some(b'n') => out.push(b'\n'),
                            Some(b'"') => out.push(b'"'),
                            other => {
                                return Err(format!(
                                    "invalid escape sequence '\\{}'",
                                    other.map(|&b| char::from(b)).unwrap_or('\n')
                                ))
                            }
                        }
                        i += 2;
                    }
                    b => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            fam.help = Some(lossy(&out));
        } else {
            if fam.kind.is_some() {
                return Err(format!(
                    "second TYPE line for metric name {:?}, or TYPE reported after samples",
                    fam.name
                ));
            }
            let raw = lossy(c.rest());
            fam.kind = Some(match raw.to_uppercase().as_str() {
                "COUNTER" => Kind::Counter,
                "GAUGE" => Kind::Gauge,
                "UNTYPED" => Kind::Untyped,
                "SUMMARY" => Kind::Summary,
                "HISTOGRAM" => Kind::Histogram,
                "GAUGE_HISTOGRAM" => Kind::GaugeHistogram,
                _ => return Err(format!("unknown metric type {raw:?}")),
            });
        }
        Ok(())
    }

    /// `name{labels} value [timestamp]`.
    fn sample(&mut self, c: &mut Cursor<'_>) -> Result<(), String> {
        let name = Self::name(c, true)?;
        if name.is_empty() {
            return Err("invalid metric name".into());
        }
        let target = self.resolve(&name);
        let fam = &mut self.families[target.family];
        if fam.kind.is_none() {
            fam.kind = Some(Kind::Untyped);
        }
        c.skip_blanks();
        let mut labels = LabelState::default();
        if c.peek() == Some(b'{') {
            c.pos += 1;
            self.labels(c, target.family, &mut labels)?;
        }
        self.value(c, &target, labels)
    }

    /// `{"name", labels} value [timestamp]`: a quoted metric name inside the braces (only in
    /// first position here; expfmt takes it anywhere).
    fn braced_sample(&mut self, c: &mut Cursor<'_>) -> Result<(), String> {
        c.pos += 1;
        c.skip_blanks();
        if c.peek() != Some(b'"') {
            return Err("invalid metric name".into());
        }
        let name = Self::name(c, true)?;
        let target = self.resolve(&name);
        let fam = &mut self.families[target.family];
        if fam.kind.is_none() {
            fam.kind = Some(Kind::Untyped);
        }
        c.skip_blanks();
        let mut labels = LabelState::default();
        match c.peek() {
            Some(b',') => {
                c.pos += 1;
                self.labels(c, target.family, &mut labels)?;
            }
            Some(b'}') => {
                c.pos += 1;
                c.skip_blanks();
            }
            _ => return Err(format!("unexpected end of metric value {}", c.found())),
        }
        self.value(c, &target, labels)
    }

    /// The label pairs after `{`, through `}` and the blanks after it.
    fn labels(
        &mut self,
        c: &mut Cursor<'_>,
        family: usize,
        st: &mut LabelState,
    ) -> Result<(), String> {
        let fam_name = self.families[family].name.clone();
        let kind = self.families[family].kind;
        loop {
            c.skip_blanks();
            if c.peek() == Some(b'}') {
                c.pos += 1;
                c.skip_blanks();
                return Ok(());
            }
            let name = Self::name(c, false)?;
            if name.is_empty() {
                return Err(format!("invalid label name for metric {fam_name:?}"));
            }
            c.skip_blanks();
            if c.peek() != Some(b'=') {
                return Err(format!(
                    "expected '=' after label name, found {}",
                    c.found()
                ));
            }
            c.pos += 1;
            if name == "__name__" {
                return Err("label name \"__name__\" is reserved".into());
            }
            let quantile = kind == Some(Kind::Summary) && name == "quantile";
            let le = kind == Some(Kind::Histogram) && name == "le";
            if !quantile && !le && st.labels.iter().any(|(n, _)| *n == name) {
                return Err(format!("duplicate label names for metric {fam_name:?}"));
            }
            c.skip_blanks();
            if c.peek() != Some(b'"') {
                return Err(format!(
                    "expected '\"' at start of label value, found {}",
                    c.found()
                ));
            }
            c.pos += 1;
            let value = Self::label_value(c)?;
            if quantile {
                st.quantile = Some(parse_value(&value).ok_or_else(|| {
                    format!("expected float as value for 'quantile' label, got {value:?}")
                })?);
            } else if le {
                st.le = Some(parse_value(&value).ok_or_else(|| {
                    format!("expected float as value for 'le' label, got {value:?}")
                })?);
            } else {
                st.labels.push((name, value.clone()));
            }
            c.skip_blanks();
            match c.peek() {
                Some(b',') => c.pos += 1,
                Some(b'}') => {
                    c.pos += 1;
                    c.skip_blanks();
                    return Ok(());
                }
                _ => return Err(format!("unexpected end of label value {value:?}")),
            }
        }
    }

    /// A quoted label value after its opening quote, through the closing quote.
    fn label_value(c: &mut Cursor<'_>) -> Result<String, String> {
        let mut out = Vec::new();
        loop {
            match c.peek() {
                None => {
                    return Err(format!(
                        "label value {:?} contains unescaped new-line",
                        lossy(&out)
                    ))
                }
                Some(b'"') => {
                    c.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    c.pos += 1;
                    match c.peek() {
                        Some(b @ (b'"' | b'\\')) => out.push(b),
                        Some(b'n') => out.push(b'\n'),
                        other => {
                            return Err(format!(
                                "invalid escape sequence '\\{}'",
                                other.map(char::from).unwrap_or('\n')
                            ))
                        }
                    }
                    c.pos += 1;
                }
                Some(b) => {
                    out.push(b);
                    c.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|e| format!("invalid label value {:?}", lossy(e.as_bytes())))
    }

    /// The value and optional timestamp, at the cursor.
    fn value(&mut self, c: &mut Cursor<'_>, t: &Target, st: LabelState) -> Result<(), String> {
        let token = lossy(c.token());
        let value =
            parse_value(&token).ok_or_else(|| format!("expected float as value, got {token:?}"))?;
        let timestamp = if c.at_end() {
            None
        } else {
            c.skip_blanks();
            let tok = lossy(c.token());
            let ts = tok
                .parse::<i64>()
                .map_err(|_| format!("expected integer as timestamp, got {tok:?}"))?;
            let rest = c.rest();
            if !rest.is_empty() {
                return Err(format!(
                    "spurious string after timestamp: {:?}",
                    lossy(rest)
                ));
            }
            Some(ts)
        };

        let family = t.family;
        let kind = self.families[family].kind.unwrap_or(Kind::Untyped);
        let metric = match kind {
            Kind::Counter | Kind::Gauge | Kind::Untyped => {
                let fam = &mut self.families[family];
                fam.metrics.push(Metric {
                    labels: st.labels,
                    sample: Sample::Simple(value),
                    timestamp_ms: None,
                });
                fam.metrics.len() - 1
            }
            Kind::Summary | Kind::Histogram => {
                let mut key = st.labels.clone();
                key.sort();
                let fam = &mut self.families[family];
                let idx = *self.grouped.entry((family, key)).or_insert_with(|| {
                    fam.metrics.push(Metric {
                        labels: st.labels,
                        sample: if kind == Kind::Summary {
                            Sample::Summary {
                                count: 0,
                                sum: 0.0,
                                quantiles: Vec::new(),
                            }
                        } else {
                            Sample::Histogram {
                                count: 0,
                                sum: 0.0,
                                buckets: Vec::new(),
                            }
                        },
                        timestamp_ms: None,
                    });
                    fam.metrics.len() - 1
                });
                match &mut fam.metrics[idx].sample {
                    Sample::Summary {
                        count,
                        sum,
                        quantiles,
                    } => {
                        if t.count {
                            *count = value as u64;
                        } else if t.sum {
                            *sum = value;
                        } else if let Some(q) = st.quantile.filter(|q| !q.is_nan()) {
                            quantiles.push((q, value));
                        }
                    }
                    Sample::Histogram {
                        count,
                        sum,
                        buckets,
                    } => {
                        if t.count {
                            *count = value as u64;
                        } else if t.sum {
                            *sum = value;
                        } else if let Some(le) = st.le.filter(|le| !le.is_nan()) {
                            buckets.push((le, value as u64));
                        }
                    }
                    Sample::Simple(_) => {}
                }
                idx
            }
            Kind::GaugeHistogram => {
                return Err(format!(
                    "unexpected type for metric name {:?}",
                    self.families[family].name
                ))
            }
        };
        if timestamp.is_some() {
            self.families[family].metrics[metric].timestamp_ms = timestamp;
        }
        Ok(())
    }
}

#[derive(Default)]
struct LabelState {
    labels: Vec<(String, String)>,
    quantile: Option<f64>,
    le: Option<f64>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<Family>, ParseError> {
        parse_text(s.as_bytes())
    }

    fn err(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn simple(pairs: &[(&str, &str)], v: f64) -> Metric {
        Metric {
            labels: labels(pairs),
            sample: Sample::Simple(v),
            timestamp_ms: None,
        }
    }

    fn fam(name: &str, help: Option<&str>, kind: Kind, metrics: Vec<Metric>) -> Family {
        Family {
            name: name.into(),
            help: help.map(str::to_string),
            kind: Some(kind),
            metrics,
        }
    }

    #[test]
    fn parses_help_type_labels_and_escapes() {
        let fams = parse(
            "# HELP http_requests_total The total number of HTTP requests.\n\
             # TYPE http_requests_total counter\n\
             http_requests_total{method=\"post\",code=\"200\"} 1027\n\
             http_requests_total{ method = \"post\" , code=\"400\" , } 3\n\
             \n\
             # A normal comment\n\
             #HELP escaped Help with \\\\ and \\n and \\\".\n\
             escaped{path=\"C:\\\\dir\\\\file.txt\",q=\"say \\\"hi\\\"\\n\"} 1.5e3\n\
             \t  metric_without_labels 12.47\n\
             braces{}+Inf\n\
             neg{a=\"b\"}-0.5\n\
             # TYPE g gauge\n\
             # HELP g Trailing blanks are kept.  \n\
             g 1 -5\n",
        )
        .unwrap();
        assert_eq!(
            fams,
            vec![
                fam(
                    "braces",
                    None,
                    Kind::Untyped,
                    vec![simple(&[], f64::INFINITY)]
                ),
                fam(
                    "escaped",
                    Some("Help with \\ and \n and \"."),
                    Kind::Untyped,
                    vec![simple(
                        &[("path", "C:\\dir\\file.txt"), ("q", "say \"hi\"\n")],
                        1500.0
                    )]
                ),
                fam(
                    "g",
                    Some("Trailing blanks are kept.  "),
                    Kind::Gauge,
                    vec![Metric {
                        labels: vec![],
                        sample: Sample::Simple(1.0),
                        timestamp_ms: Some(-5),
                    }]
                ),
                fam(
                    "http_requests_total",
                    Some("The total number of HTTP requests."),
                    Kind::Counter,
                    vec![
                        simple(&[("method", "post"), ("code", "200")], 1027.0),
                        simple(&[("method", "post"), ("code", "400")], 3.0),
                    ]
                ),
                fam(
                    "metric_without_labels",
                    None,
                    Kind::Untyped,
                    vec![simple(&[], 12.47)]
                ),
                fam(
                    "neg",
                    None,
                    Kind::Untyped,
                    vec![simple(&[("a", "b")], -0.5)]
                ),
            ]
        );
    }

    #[test]
    fn special_values_and_empty_input() {
        let f = parse("a NaN\nb -Inf\nc 1e-7\nd .5\n").unwrap();
        assert!(matches!(f[0].metrics[0].sample, Sample::Simple(v) if v.is_nan()));
        assert_eq!(f[1].metrics[0].sample, Sample::Simple(f64::NEG_INFINITY));
        assert_eq!(f[2].metrics[0].sample, Sample::Simple(1e-7));
        assert_eq!(f[3].metrics[0].sample, Sample::Simple(0.5));
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("\n\n  \t\n").unwrap(), vec![]);
        // Blanks after the last newline are fine; metadata without samples is dropped.
        assert_eq!(
            parse("#\n# \n# HELP\n# HELP foo\n# TYPE bar gauge\n# HELP baz x\n  ").unwrap(),
            vec![]
        );
        assert_eq!(parse("# TYPE gh gauge_histogram\n").unwrap(), vec![]);
    }

    #[test]
    fn summaries_and_histograms_group_their_lines() {
        let f = parse(
            "# HELP rpc_duration_seconds A summary of the RPC duration in seconds.\n\
             # TYPE rpc_duration_seconds summary\n\
             rpc_duration_seconds{quantile=\"0.01\",service=\"a\"} 3102\n\
             rpc_duration_seconds{service=\"a\",quantile=\"0.5\"} 4773\n\
             rpc_duration_seconds_sum{service=\"a\"} 1.7560473e+07\n\
             rpc_duration_seconds_count{service=\"a\"} 2693.9\n\
             rpc_duration_seconds{quantile=\"NaN\",service=\"a\"} 1\n\
             # TYPE h histogram\n\
             # HELP h_count Help via the count line.\n\
             h_bucket{le=\"0.05\"} 24054\n\
             h{le=\"1\"} 33444\n\
             h_bucket{le=\"+Inf\"} 144320\n\
             h_sum 53423\n\
             h_count 144320\n\
             h_bucket 7\n",
        )
        .unwrap();
        assert_eq!(
            f,
            vec![
                fam(
                    "h",
                    Some("Help via the count line."),
                    Kind::Histogram,
                    vec![Metric {
                        labels: vec![],
                        sample: Sample::Histogram {
                            count: 144320,
                            sum: 53423.0,
                            buckets: vec![(0.05, 24054), (1.0, 33444), (f64::INFINITY, 144320)],
                        },
                        timestamp_ms: None,
                    }]
                ),
                fam(
                    "rpc_duration_seconds",
                    Some("A summary of the RPC duration in seconds."),
                    Kind::Summary,
                    vec![Metric {
                        labels: labels(&[("service", "a")]),
                        sample: Sample::Summary {
                            count: 2693,
                            sum: 1.7560473e7,
                            quantiles: vec![(0.01, 3102.0), (0.5, 4773.0)],
                        },
                        timestamp_ms: None,
                    }]
                ),
            ]
        );
        // Without a TYPE first, `_count` and `_sum` are families of their own.
        let f = parse("x_count 1\nx_sum 2\n# TYPE x summary\nx{quantile=\"1\"} 3\n").unwrap();
        assert_eq!(
            f.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["x", "x_count", "x_sum"]
        );
        // `le` and `quantile` are ordinary labels elsewhere.
        let f = parse("g{le=\"x\",quantile=\"y\"} 1\n").unwrap();
        assert_eq!(
            f[0].metrics[0].labels,
            labels(&[("le", "x"), ("quantile", "y")])
        );
    }

    #[test]
    fn strict_like_expfmt() {
        let line = |n: usize, msg: &str| format!("text format parsing error in line {n}: {msg}");
        for (input, want) in [
            ("foo 1", line(1, "unexpected end of input stream")),
            ("a 1\n# comment", line(2, "unexpected end of input stream")),
            (
                "foo 1 \n",
                line(1, "expected integer as timestamp, got \"\""),
            ),
            (
                "foo 1\r\n",
                line(1, "expected float as value, got \"1\\r\""),
            ),
            ("foo\n", line(1, "expected float as value, got \"\"")),
            (
                "foo{a=\"b\"} \n",
                line(1, "expected float as value, got \"\""),
            ),
            (
                "foo 0x10\n",
                line(1, "expected float as value, got \"0x10\""),
            ),
            ("foo 1_0\n", line(1, "expected float as value, got \"1_0\"")),
            (
                "foo 1e999\n",
                line(1, "expected float as value, got \"1e999\""),
            ),
            (
                "foo 1 x\n",
                line(1, "expected integer as timestamp, got \"x\""),
            ),
            (
                "foo 1 2 3\n",
                line(1, "spurious string after timestamp: \" 3\""),
            ),
            (
                "foo 1 2 \n",
                line(1, "spurious string after timestamp: \" \""),
            ),
            (
                "# HELP foo a\n# HELP foo b\n",
                line(2, "second HELP line for metric name \"foo\""),
            ),
            (
                "foo 1\n# TYPE foo gauge\n",
                line(
                    2,
                    "second TYPE line for metric name \"foo\", or TYPE reported after samples",
                ),
            ),
            (
                "# TYPE foo gauges\n",
                line(1, "unknown metric type \"gauges\""),
            ),
            (
                "# TYPE foo gauge \n",
                line(1, "unknown metric type \"gauge \""),
            ),
            (
                "# HELP foo a\\tb\n",
                line(1, "invalid escape sequence '\\t'"),
            ),
            (
                "# HELP foo a\\\n",
                line(1, "invalid escape sequence '\\\n'"),
            ),
            (
                "foo{a=\"\\x\"} 1\n",
                line(1, "invalid escape sequence '\\x'"),
            ),
            (
                "foo{a=\"b\",a=\"c\"} 1\n",
                line(1, "duplicate label names for metric \"foo\""),
            ),
            (
                "foo{__name__=\"x\"} 1\n",
                line(1, "label name \"__name__\" is reserved"),
            ),
            (
                "foo{a=b} 1\n",
                line(1, "expected '\"' at start of label value, found 'b'"),
            ),
            (
                "foo{a} 1\n",
                line(1, "expected '=' after label name, found '}'"),
            ),
            (
                "foo{1a=\"b\"} 1\n",
                line(1, "invalid label name for metric \"foo\""),
            ),
            (
                "foo{a=\"b\" x} 1\n",
                line(1, "unexpected end of label value \"b\""),
            ),
            (
                "foo{a=\"b\n",
                line(1, "label value \"b\" contains unescaped new-line"),
            ),
            ("foo{a=\"\u{fffd}\"} 1\n", String::new()),
            ("1foo 1\n", line(1, "invalid metric name")),
            ("# HELP 1foo x\n", line(1, "invalid metric name in comment")),
            (
                "# TYPE s summary\ns{quantile=\"x\"} 1\n",
                line(2, "expected float as value for 'quantile' label, got \"x\""),
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"\"} 1\n",
                line(2, "expected float as value for 'le' label, got \"\""),
            ),
            (
                "# TYPE gh gauge_histogram\ngh 1\n",
                line(2, "unexpected type for metric name \"gh\""),
            ),
            ("{a=\"b\"} 1\n", line(1, "invalid metric name")),
            (
                "{\"foo.bar\"} 1\n",
                line(1, "invalid metric name \"foo.bar\""),
            ),
            (
                "foo{\"a.b\"=\"c\"} 1\n",
                line(1, "invalid label name \"a.b\""),
            ),
        ] {
            if want.is_empty() {
                assert!(parse(input).is_ok(), "{input:?}");
            } else {
                assert_eq!(err(input), want, "{input:?}");
            }
        }
        // Invalid UTF-8 in a label value.
        let e = parse_text(b"foo{a=\"\xff\"} 1\n").unwrap_err();
        assert_eq!(e.msg, "invalid label value \"\u{fffd}\"");
    }

    #[test]
    fn quoted_names() {
        let f = parse("{\"foo\", a=\"b\"} 1\n{\"foo\"} 2\nbar{\"c\"=\"d\"} 3\n").unwrap();
        assert_eq!(
            f,
            vec![
                fam("bar", None, Kind::Untyped, vec![simple(&[("c", "d")], 3.0)]),
                fam(
                    "foo",
                    None,
                    Kind::Untyped,
                    vec![simple(&[("a", "b")], 1.0), simple(&[], 2.0)]
                ),
            ]
        );
    }
}
