//! The Prometheus text exposition format (version 0.0.4), written straight into a byte buffer.
//!
//! Collectors that read hundreds of `/proc` values per scrape would spend more time building
//! `prometheus::proto` structures than reading the kernel's files, so they add samples here instead.
//! The output matches what client_golang writes, byte for byte where it matters to people diffing
//! the two: families sorted by name, label pairs sorted by name, samples sorted by their labels, and
//! floats formatted like Go's `strconv.FormatFloat(v, 'g', -1, 64)`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's `# TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Untyped,
    Histogram,
    Summary,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Untyped => "untyped",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
        }
    }
}

/// One metric family: its metadata and its rendered sample lines.
#[derive(Debug, Clone)]
pub struct Family {
    name: String,
    help: String,
    kind: MetricType,
    /// Sample lines, each ending in `\n`, with the key client_golang sorts them by: the number of
    /// labels, then the label values in label-name order. Sorted at render time.
    lines: Vec<(String, String)>,
    /// HELP and TYPE are written (by an earlier [`Exposition::drain`]).
    header_written: bool,
}

impl Family {
    /// Adds a sample named like the family.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.push("", labels, None, value);
        self
    }

    /// Adds a histogram or summary sample: `suffix` is `_bucket`, `_sum`, `_count` or empty
    /// (a quantile), `extra` the `le` or `quantile` label that goes last, as client_golang puts it.
    pub fn sample_with(
        &mut self,
        suffix: &str,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: f64,
    ) -> &mut Self {
        self.push(suffix, labels, extra, value);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The samples, sorted and de-duplicated (counters, gauges, untyped), into `out`.
    fn write_samples(&mut self, out: &mut Vec<u8>) {
        if matches!(
            self.kind,
            MetricType::Counter | MetricType::Gauge | MetricType::Untyped
        ) {
            // Stable, so that of two identical series the first one written stays.
            self.lines.sort_by(|a, b| a.0.cmp(&b.0));
            self.lines
                .dedup_by(|b, a| a.0 == b.0 && series(&a.1) == series(&b.1));
        }
        for (_, line) in &self.lines {
            out.extend_from_slice(line.as_bytes());
        }
    }

    fn push(
        &mut self,
        suffix: &str,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: f64,
    ) {
        let mut line = String::with_capacity(self.name.len() + 48);
        let mut key = String::new();
        line.push_str(&self.name);
        line.push_str(suffix);
        if !labels.is_empty() || extra.is_some() {
            // client_golang sorts label pairs by name; so do we, on a small stack copy.
            let mut sorted: Vec<(&str, &str)> = labels.to_vec();
            sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
            if let Some(e) = extra {
                sorted.push(e);
            }
            // A label count above 255 does not happen; a char keeps the key one plain string.
            key.push(char::from(sorted.len().min(255) as u8));
            for (_, value) in &sorted {
                key.push_str(value);
                key.push('\0');
            }
            line.push('{');
            for (i, (name, value)) in sorted.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(name);
                line.push_str("=\"");
                escape_label_value(&mut line, value);
                line.push('"');
            }
            line.push('}');
        }
        line.push(' ');
        format_float(&mut line, value);
        line.push('\n');
        self.lines.push((key, line));
    }
}

/// A set of metric families, built up by collectors and rendered once per scrape.
#[derive(Debug, Default, Clone)]
pub struct Exposition {
    families: Vec<Family>,
    index: HashMap<String, usize, BuildHasherDefault<Fnv>>,
    /// Text-format lines from another source, written verbatim after the families.
    tail: String,
}

/// FNV-1a: family names are short, trusted strings looked up once per sample, where SipHash's
/// resistance to chosen keys buys nothing and costs a measurable share of a scrape.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// The family called `name`, created with `help` and `kind` on first use.
    pub fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut Family {
        let idx = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.families.push(Family {
                    name: name.to_string(),
                    help: help.to_string(),
                    kind,
                    lines: Vec::new(),
                    header_written: false,
                });
                self.index.insert(name.to_string(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        &mut self.families[idx]
    }

    /// Adds one gauge sample.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.family(name, help, MetricType::Gauge)
            .sample(labels, value);
    }

    /// Adds one counter sample.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.family(name, help, MetricType::Counter)
            .sample(labels, value);
    }

    /// Adds one untyped sample.
    pub fn untyped(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.family(name, help, MetricType::Untyped)
            .sample(labels, value);
    }

    /// Appends text that is already in the exposition format (e.g. an application's own
    /// `/metrics`, merged after ours the way Istio merges app and proxy metrics). It is written
    /// verbatim after the families; the caller keeps its family names apart from ours.
    pub fn append_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.tail.push_str(text);
        if !text.ends_with('\n') {
            self.tail.push('\n');
        }
    }

    /// Moves every family of `other` into this set, joining families of the same name. As
    /// client_golang's gatherer does, a family whose TYPE or HELP contradicts the one already here
    /// is dropped (and logged) rather than exposed inconsistently.
    pub fn merge(&mut self, other: Exposition) {
        self.tail.push_str(&other.tail);
        for fam in other.families {
            match self.index.get(&fam.name) {
                Some(&i) => {
                    let here = &mut self.families[i];
                    if here.kind == fam.kind && here.help == fam.help {
                        here.lines.extend(fam.lines);
                    } else if !fam.lines.is_empty() {
                        tracing::warn!(
                            family = %fam.name,
                            "dropping samples whose TYPE or HELP contradicts an earlier source"
                        );
                    }
                }
                None => {
                    self.index.insert(fam.name.clone(), self.families.len());
                    self.families.push(fam);
                }
            }
        }
    }

    /// Whether a family of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The families, in insertion order.
    pub fn families(&self) -> impl Iterator<Item = (&str, MetricType, usize)> {
        self.families
            .iter()
            .map(|f| (f.name.as_str(), f.kind, f.lines.len()))
    }

    /// Writes the text format: families sorted by name, samples sorted by labels (histograms and
    /// summaries keep the order they were written in, as their lines belong together).
    pub fn render(mut self, out: &mut Vec<u8>) {
        self.write_families(out);
        out.extend_from_slice(self.tail.as_bytes());
    }

    /// Writes the samples added since the last call, sorted and de-duplicated as
    /// [`Exposition::render`] does, each family's HELP and TYPE the first time it has samples,
    /// and empties the families (keeping them). For an exporter that writes one large family
    /// in parts whose order it knows (its samples grouped by the value of the label that sorts
    /// first), so that only one part is held at a time. The appended text is not written.
    pub fn drain(&mut self, out: &mut Vec<u8>) {
        self.write_families(out);
        self.index.clear();
        for (i, fam) in self.families.iter().enumerate() {
            self.index.insert(fam.name.clone(), i);
        }
    }

    /// Sorts the families by name (which leaves the index stale) and writes and empties them.
    fn write_families(&mut self, out: &mut Vec<u8>) {
        self.families.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        for fam in &mut self.families {
            if fam.lines.is_empty() {
                continue;
            }
            if !fam.header_written {
                write_header(out, &fam.name, &fam.help, fam.kind);
                fam.header_written = true;
            }
            fam.write_samples(out);
            fam.lines.clear();
        }
    }

    /// Renders into a new buffer.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * 1024);
        self.render(&mut out);
        out
    }
}

/// A family's `# HELP` and `# TYPE` lines.
fn write_header(out: &mut Vec<u8>, name: &str, help: &str, kind: MetricType) {
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    escape_help(out, help);
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_str().as_bytes());
    out.push(b'\n');
}

/// A sample line without its value: the series it belongs to.
fn series(line: &str) -> &str {
    line.rfind(' ').map_or(line, |i| &line[..i])
}

fn escape_label_value(out: &mut String, v: &str) {
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(out: &mut Vec<u8>, help: &str) {
    for b in help.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b => out.push(b),
        }
    }
}

/// Formats like Go's `strconv.FormatFloat(v, 'g', -1, 64)`, which client_golang uses: the
/// shortest representation that round-trips, in exponent form (`1.5e+06`) when the decimal
/// exponent is below -4 or at least 6.
pub fn format_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    // Fast path: the integers most samples are.
    if v.fract() == 0.0 && v.abs() < 1e6 {
        if v == 0.0 && v.is_sign_negative() {
            out.push('-');
        }
        let _ = write!(out, "{}", v as i64);
        return;
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    if (-4..6).contains(&exp) {
        let _ = write!(out, "{v}");
    } else {
        out.push_str(mantissa);
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        let mut s = String::new();
        format_float(&mut s, v);
        s
    }

    #[test]
    fn floats_are_formatted_like_go() {
        assert_eq!(f(0.0), "0");
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-3.0), "-3");
        assert_eq!(f(123456.0), "123456");
        assert_eq!(f(1e6), "1e+06");
        assert_eq!(f(1234567.0), "1.234567e+06");
        assert_eq!(f(8.253755392e9), "8.253755392e+09");
        assert_eq!(f(0.5), "0.5");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(1.5e-7), "1.5e-07");
        assert_eq!(f(12345.25), "12345.25");
        assert_eq!(f(1e100), "1e+100");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(f64::NAN), "NaN");
    }

    #[test]
    fn renders_sorted_families_labels_and_samples() {
        let mut e = Exposition::new();
        e.gauge("b_metric", "B.", &[("mode", "user"), ("cpu", "1")], 2.0);
        e.gauge("b_metric", "B.", &[("mode", "idle"), ("cpu", "0")], 1.0);
        e.counter(
            "a_total",
            "Help with \\ and\nnewline.",
            &[("path", "say \"hi\"\n")],
            3.5,
        );
        let text = String::from_utf8(e.to_bytes()).unwrap();
        assert_eq!(
            text,
            "# HELP a_total Help with \\\\ and\\nnewline.\n# TYPE a_total counter\n\
             a_total{path=\"say \\\"hi\\\"\\n\"} 3.5\n\
             # HELP b_metric B.\n# TYPE b_metric gauge\n\
             b_metric{cpu=\"0\",mode=\"idle\"} 1\nb_metric{cpu=\"1\",mode=\"user\"} 2\n"
        );
    }

    #[test]
    fn samples_sort_like_client_golang() {
        // Fewer labels first, then label values compared as strings ("x" < "x y").
        let mut e = Exposition::new();
        e.gauge("m", "M.", &[("a", "x y")], 1.0);
        e.gauge("m", "M.", &[("a", "x")], 2.0);
        e.gauge(
            "m",
            "M.",
            &[("type", "Mains"), ("power_supply", "BAT0")],
            3.0,
        );
        e.gauge("m", "M.", &[("power_supply", "AC")], 4.0);
        e.gauge("m", "M.", &[], 5.0);
        let text = String::from_utf8(e.to_bytes()).unwrap();
        assert_eq!(
            text,
            "# HELP m M.\n# TYPE m gauge\nm 5\nm{power_supply=\"AC\"} 4\nm{a=\"x\"} 2\nm{a=\"x y\"} 1\n\
             m{power_supply=\"BAT0\",type=\"Mains\"} 3\n"
        );
    }

    #[test]
    fn merge_joins_families_and_skips_empty_ones() {
        let mut a = Exposition::new();
        a.gauge("x", "X.", &[("c", "a")], 1.0);
        a.family("empty", "Nothing.", MetricType::Gauge);
        let mut b = Exposition::new();
        b.gauge("x", "X.", &[("c", "b")], 2.0);
        a.merge(b);
        let text = String::from_utf8(a.to_bytes()).unwrap();
        assert_eq!(
            text,
            "# HELP x X.\n# TYPE x gauge\nx{c=\"a\"} 1\nx{c=\"b\"} 2\n"
        );
    }

    #[test]
    fn contradicting_families_and_duplicate_series_are_dropped() {
        let mut a = Exposition::new();
        a.gauge("x", "X.", &[("c", "a")], 1.0);
        let mut b = Exposition::new();
        b.counter("x", "X.", &[("c", "b")], 2.0);
        b.gauge("y", "Y.", &[("c", "a")], 3.0);
        b.gauge("y", "Y.", &[("c", "a")], 4.0);
        b.gauge("y", "Y.", &[("d", "a")], 5.0);
        a.merge(b);
        let text = String::from_utf8(a.to_bytes()).unwrap();
        assert_eq!(
            text,
            "# HELP x X.\n# TYPE x gauge\nx{c=\"a\"} 1\n# HELP y Y.\n# TYPE y gauge\ny{c=\"a\"} 3\ny{d=\"a\"} 5\n"
        );
    }

    #[test]
    fn appended_text_comes_after_the_families() {
        let mut e = Exposition::new();
        e.append_text("# TYPE app_up gauge\napp_up 1");
        e.gauge("x", "X.", &[], 1.0);
        let text = String::from_utf8(e.to_bytes()).unwrap();
        assert_eq!(
            text,
            "# HELP x X.\n# TYPE x gauge\nx 1\n# TYPE app_up gauge\napp_up 1\n"
        );
    }

    #[test]
    fn histogram_lines_keep_their_order() {
        let mut e = Exposition::new();
        let h = e.family("h_seconds", "H.", MetricType::Histogram);
        h.sample_with("_bucket", &[], Some(("le", "0.5")), 1.0);
        h.sample_with("_bucket", &[], Some(("le", "+Inf")), 2.0);
        h.sample_with("_sum", &[], None, 0.75);
        h.sample_with("_count", &[], None, 2.0);
        let text = String::from_utf8(e.to_bytes()).unwrap();
        assert!(text.ends_with(
            "h_seconds_bucket{le=\"0.5\"} 1\nh_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_sum 0.75\nh_seconds_count 2\n"
        ));
    }
}
