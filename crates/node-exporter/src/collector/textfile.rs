//! The `textfile` collector: metrics that other programs write as `*.prom` files in the
//! directories given by `--collector.textfile.directory` (repeatable, glob patterns allowed), plus
//! `node_textfile_mtime_seconds{file}` for every file read and `node_textfile_scrape_error`.
//!
//! The files are parsed (by `exporter_core::text::parser`) as strictly as node_exporter's parser
//! (prometheus/common `expfmt`, legacy name validation) does, because a file that node_exporter
//! rejects must be rejected here too: a missing final newline, trailing blanks after a value,
//! `\r\n` line ends, a second HELP or TYPE line, a TYPE after samples, unknown escapes, invalid
//! UTF-8 in label values. A rejected file is skipped whole and sets `node_textfile_scrape_error 1`;
//! so does a file with client-side timestamps and a metric whose HELP differs from the one another
//! file gave it.
//!
//! What remains is then checked the way client_golang's registry checks a gather: within a
//! metric name the first HELP and TYPE win and later, different ones are dropped; a series seen
//! twice is dropped; a `_count`/`_sum`/`_bucket` name colliding with a summary or histogram is
//! dropped. These drops are only logged, as upstream. Families are emitted sorted like the
//! registry sorts them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::Path;

use exporter_core::cli::UsageError;
use exporter_core::text::format_float;
use exporter_core::text::parser::{parse_text, Family, Kind, Sample};
use exporter_core::Exposition;

use super::{CollectResult, Collector, Paths};
use crate::sys::glob::{glob, go_join};

/// Flags of the `textfile` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    #[arg(
        long = "collector.textfile.directory",
        default_value = "",
        action = clap::ArgAction::Append,
        help = "Directory to read text files with metrics from, supports glob matching. (repeatable)"
    )]
    pub directories: Vec<String>,
}

pub fn build(_paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    // Deliberately not below --path.rootfs: upstream reads these paths as given.
    Ok(Box::new(Textfile {
        directories: args.directories.clone(),
    }))
}

struct Textfile {
    directories: Vec<String>,
}

impl Collector for Textfile {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let gathered = collect_directories(&self.directories);
        gathered.render(out);
        Ok(())
    }
}

/// Reads every `*.prom` file of the directories (or glob patterns) and returns what the
/// collector exposes, including the mtime and error metrics.
fn collect_directories(directories: &[String]) -> Gathered {
    let mut errored = false;
    let mut paths = Vec::new();
    for pattern in directories {
        match glob(pattern) {
            Ok(found) if !found.is_empty() => paths.extend(found),
            // Not a pattern, a bad one, or nothing matched: try it as a directory.
            _ => paths.push(pattern.clone()),
        }
    }

    // metric name -> (first HELP seen, HELP that contradicted it).
    let mut helps: HashMap<String, (String, Option<String>)> = HashMap::new();
    let mut files_of: HashMap<String, Vec<String>> = HashMap::new();
    let mut parsed: Vec<Family> = Vec::new();
    let mut mtimes: BTreeMap<String, i64> = BTreeMap::new();

    for dir in &paths {
        let names = match crate::sys::read::dir_names(Path::new(dir)) {
            Ok(n) => n,
            Err(e) => {
                // An empty path is the "no directory configured" default.
                if !dir.is_empty() {
                    errored = true;
                    tracing::error!(path = %dir, err = %e, "failed to read textfile collector directory");
                }
                continue;
            }
        };
        for name in names.iter().filter(|n| n.ends_with(".prom")) {
            let file = go_join(dir, name);
            let (mtime, families) = match process_file(&file) {
                Ok(r) => r,
                Err(e) => {
                    errored = true;
                    tracing::error!(file = %name, err = %e, "failed to collect textfile data");
                    continue;
                }
            };
            for fam in families {
                if let Some((first, contradicted)) = helps.get(&fam.name) {
                    let differs = fam.help.as_ref().is_some_and(|h| h != first);
                    if differs || contradicted.is_some() {
                        let new_help = fam.help.clone().unwrap_or_default();
                        tracing::error!(
                            metric = %fam.name,
                            original_help_text = %first,
                            new_help_text = %new_help,
                            file = %files_of.get(&fam.name).and_then(|f| f.first()).map(String::as_str).unwrap_or(""),
                            "inconsistent metric help text"
                        );
                        let first = first.clone();
                        helps.insert(fam.name.clone(), (first, Some(new_help)));
                        errored = true;
                        continue;
                    }
                }
                if let Some(h) = &fam.help {
                    helps.insert(fam.name.clone(), (h.clone(), None));
                }
                files_of
                    .entry(fam.name.clone())
                    .or_default()
                    .push(file.clone());
                parsed.push(fam);
            }
            mtimes.insert(file, mtime);
        }
    }

    // Families without HELP get one naming every file that had the metric.
    let mut default_help: HashMap<String, String> = HashMap::new();
    let mut gathered = Gathered::default();
    for fam in parsed {
        let help = match fam.help {
            Some(h) => h,
            None => default_help
                .entry(fam.name.clone())
                .or_insert_with(|| {
                    let files = files_of.get(&fam.name).cloned().unwrap_or_default();
                    format!("Metric read from {}", files.join(", "))
                })
                .clone(),
        };
        let kind = fam.kind.unwrap_or(Kind::Untyped);
        // Every series of a family gets every label name the family uses ("" when absent).
        let mut names: Vec<&str> = Vec::new();
        for m in &fam.metrics {
            for (n, _) in &m.labels {
                if !names.contains(&n.as_str()) {
                    names.push(n);
                }
            }
        }
        for m in &fam.metrics {
            let mut labels = m.labels.clone();
            for n in &names {
                if !labels.iter().any(|(l, _)| l == n) {
                    labels.push((n.to_string(), String::new()));
                }
            }
            gathered.add(&fam.name, &help, kind, labels, m.sample.clone());
        }
    }
    for (file, mtime) in mtimes {
        gathered.add(
            "node_textfile_mtime_seconds",
            "Unixtime mtime of textfiles successfully read.",
            Kind::Gauge,
            vec![("file".to_string(), file)],
            Sample::Simple(mtime as f64),
        );
    }
    gathered.add(
        "node_textfile_scrape_error",
        "1 if there was an error opening or reading a file, 0 otherwise",
        Kind::Gauge,
        Vec::new(),
        Sample::Simple(if errored { 1.0 } else { 0.0 }),
    );
    gathered
}

/// The most of one file read: a file larger than this is an error, not a scrape held up while
/// it is read (textfiles are tens of kilobytes; the largest seen in the wild a few megabytes).
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Parses one file; its mtime (whole seconds) and families, sorted by name.
///
/// Only regular files (or symlinks to them) are read. Unlike node_exporter, which opens and
/// reads whatever `*.prom` names: a FIFO there blocks the open until a writer comes, holding
/// the collector past the scrape's deadline (and the good files' metrics with it), and a link
/// to `/dev/zero` is read forever. The open is non-blocking so a FIFO cannot hold even that.
fn process_file(path: &str) -> Result<(i64, Vec<Family>), String> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("failed to open textfile data file {path:?}: {e}"))?;
    let meta = f
        .metadata()
        .map_err(|e| format!("failed to stat {path:?}: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "textfile {path:?} is not a regular file ({:?}), skipping it",
            meta.file_type()
        ));
    }
    let mut buf = Vec::new();
    (&mut f)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("failed to parse textfile data from {path:?}: {e}"))?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "textfile {path:?} is larger than {MAX_FILE_BYTES} bytes, skipping it"
        ));
    }
    let families = parse_text(&buf)
        .map_err(|e| format!("failed to parse textfile data from {path:?}: {e}"))?;
    if families
        .iter()
        .any(|f| f.metrics.iter().any(|m| m.timestamp_ms.is_some()))
    {
        return Err(format!(
            "textfile {path:?} contains unsupported client-side timestamps, skipping entire file"
        ));
    }
    // client_golang refuses label names starting with "__" (node_exporter panics on them);
    // we reject the file instead.
    for fam in &families {
        for m in &fam.metrics {
            if let Some((n, _)) = m.labels.iter().find(|(n, _)| n.starts_with("__")) {
                return Err(format!(
                    "textfile {path:?}: {n:?} is not a valid label name for metric {:?}",
                    fam.name
                ));
            }
        }
    }
    // Stat only once the file is known good, so that a broken file does not look fresh.
    let meta = f
        .metadata()
        .map_err(|e| format!("failed to stat {path:?}: {e}"))?;
    Ok((mtime_seconds(&meta), families))
}

/// `UnixNano() / 1e9` in Go: whole seconds, truncated towards zero.
fn mtime_seconds(meta: &fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    let nanos = meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128;
    (nanos / 1_000_000_000) as i64
}

// ---- gathering: client_golang's registry checks and ordering ----

#[derive(Default)]
struct Gathered {
    families: Vec<GatheredFamily>,
    index: HashMap<String, usize>,
}

struct GatheredFamily {
    name: String,
    help: String,
    kind: Kind,
    metrics: Vec<(Vec<(String, String)>, Sample)>,
    seen: HashSet<Vec<(String, String)>>,
}

impl Gathered {
    /// Adds one series, or drops it (logged) where the Go registry would report an error.
    fn add(
        &mut self,
        name: &str,
        help: &str,
        kind: Kind,
        mut labels: Vec<(String, String)>,
        sample: Sample,
    ) {
        let idx = match self.index.get(name) {
            Some(&i) => {
                let fam = &self.families[i];
                if fam.help != help {
                    tracing::error!(metric = name, help, should_have = %fam.help, "collected metric has a different help text, dropped");
                    return;
                }
                if fam.kind != kind {
                    tracing::error!(
                        metric = name,
                        kind = kind.as_str(),
                        should_be = fam.kind.as_str(),
                        "collected metric has a different type, dropped"
                    );
                    return;
                }
                i
            }
            None => {
                if let Some(why) = self.suffix_collision(name, kind) {
                    tracing::error!(metric = name, "{why}, dropped");
                    return;
                }
                self.families.push(GatheredFamily {
                    name: name.to_string(),
                    help: help.to_string(),
                    kind,
                    metrics: Vec::new(),
                    seen: HashSet::new(),
                });
                self.index.insert(name.to_string(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        let fam = &mut self.families[idx];
        if !fam.seen.insert(labels.clone()) {
            tracing::error!(
                metric = name,
                labels = ?labels,
                "collected metric was collected before with the same name and label values, dropped"
            );
            return;
        }
        fam.metrics.push((labels, sample));
    }

    /// The registry's check that `x_count`, `x_sum` and `x_bucket` do not clash with a summary
    /// or histogram `x`, in either order.
    fn suffix_collision(&self, name: &str, kind: Kind) -> Option<String> {
        let kind_of = |n: &str| self.index.get(n).map(|&i| self.families[i].kind);
        for suffix in ["_count", "_sum", "_bucket"] {
            if let Some(base) = name.strip_prefix("").and_then(|n| n.strip_suffix(suffix)) {
                match kind_of(base) {
                    Some(Kind::Summary) if suffix != "_bucket" => {
                        return Some(format!(
                            "collected metric named {name:?} collides with previously collected summary named {base:?}"
                        ))
                    }
                    Some(Kind::Histogram) => {
                        return Some(format!(
                            "collected metric named {name:?} collides with previously collected histogram named {base:?}"
                        ))
                    }
                    _ => {}
                }
                break;
            }
        }
        if matches!(kind, Kind::Summary | Kind::Histogram) {
            let mut suffixes = vec!["_count", "_sum"];
            if kind == Kind::Histogram {
                suffixes.push("_bucket");
            }
            for s in suffixes {
                let other = format!("{name}{s}");
                if self.index.contains_key(&other) {
                    return Some(format!(
                        "collected histogram or summary named {name:?} collides with previously collected metric named {other:?}"
                    ));
                }
            }
        }
        None
    }

    fn render(mut self, out: &mut Exposition) {
        for fam in &mut self.families {
            // client_golang's metricSorter: fewer labels first, then label values in label
            // name order.
            fam.metrics.sort_by(|a, b| {
                a.0.len()
                    .cmp(&b.0.len())
                    .then_with(|| a.0.iter().map(|l| &l.1).cmp(b.0.iter().map(|l| &l.1)))
            });
            let f = out.family(&fam.name, &fam.help, fam.kind.metric_type());
            for (labels, sample) in &fam.metrics {
                let labels: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                match sample {
                    Sample::Simple(v) => {
                        f.sample(&labels, *v);
                    }
                    Sample::Summary {
                        count,
                        sum,
                        quantiles,
                    } => {
                        for (q, v) in last_wins_sorted(quantiles) {
                            f.sample_with("", &labels, Some(("quantile", &go_float(q))), v);
                        }
                        f.sample_with("_sum", &labels, None, *sum);
                        f.sample_with("_count", &labels, None, *count as f64);
                    }
                    Sample::Histogram {
                        count,
                        sum,
                        buckets,
                    } => {
                        let mut inf_seen = false;
                        for (le, c) in last_wins_sorted(buckets) {
                            inf_seen |= le == f64::INFINITY;
                            f.sample_with(
                                "_bucket",
                                &labels,
                                Some(("le", &go_float(le))),
                                c as f64,
                            );
                        }
                        // The text format always ends a histogram with a +Inf bucket.
                        if !inf_seen {
                            f.sample_with("_bucket", &labels, Some(("le", "+Inf")), *count as f64);
                        }
                        f.sample_with("_sum", &labels, None, *sum);
                        f.sample_with("_count", &labels, None, *count as f64);
                    }
                }
            }
        }
    }
}

/// Quantiles or buckets as client_golang holds them, in a map keyed by the bound: the last value
/// of a repeated bound wins, and they come out sorted by bound.
fn last_wins_sorted<T: Copy>(pairs: &[(f64, T)]) -> Vec<(f64, T)> {
    let mut out: Vec<(f64, T)> = Vec::new();
    for &(bound, v) in pairs {
        match out.iter_mut().find(|(x, _)| *x == bound) {
            Some(slot) => slot.1 = v,
            None => out.push((bound, v)),
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

fn go_float(v: f64) -> String {
    let mut s = String::new();
    format_float(&mut s, v);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::render;
    use std::time::{Duration, UNIX_EPOCH};

    /// Writes `files` into `dir` with the mtime 2024-01-02T03:04:05.7Z (1704164645.7).
    fn write_prom(dir: &Path, files: &[(&str, &str)]) {
        fs::create_dir_all(dir).unwrap();
        for (name, content) in files {
            let path = dir.join(name);
            fs::write(&path, content).unwrap();
            let f = fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(UNIX_EPOCH + Duration::from_millis(1_704_164_645_700))
                .unwrap();
        }
    }

    fn collect(dirs: &[&str]) -> String {
        let args = Args {
            directories: dirs.iter().map(|s| s.to_string()).collect(),
        };
        render(&*build(&Paths::default(), &args).unwrap()).unwrap()
    }

    const ERROR_HELP: &str = "# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise\n# TYPE node_textfile_scrape_error gauge\n";

    /// Runs `collect` on a thread of its own, so a test sees a hang as a failure, not forever.
    fn collect_within(dirs: &[&str], limit: Duration) -> Option<String> {
        let dirs: Vec<String> = dirs.iter().map(|s| s.to_string()).collect();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
            let _ = tx.send(collect(&dirs));
        });
        rx.recv_timeout(limit).ok()
    }

    #[test]
    fn a_fifo_or_a_device_is_an_error_and_the_good_files_still_count() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tf");
        write_prom(&dir, &[("good.prom", "good_value 1\n")]);
        // A FIFO nobody writes to: opening it for reading blocks until a writer comes.
        let fifo = std::ffi::CString::new(dir.join("fifo.prom").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        // A symlink to an endless device.
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.prom")).unwrap();
        let text = collect_within(&[dir.to_str().unwrap()], Duration::from_secs(10))
            .expect("the textfile collector hung on a FIFO or /dev/zero");
        assert!(text.contains("good_value 1\n"), "{text}");
        assert!(text.contains("node_textfile_scrape_error 1\n"), "{text}");
        assert!(text.contains("good.prom"), "{text}");
        assert!(!text.contains("fifo.prom\""), "{text}");
    }

    #[test]
    fn no_directory_configured() {
        assert_eq!(
            collect(&[""]),
            format!("{ERROR_HELP}node_textfile_scrape_error 0\n")
        );
        // A directory that does not exist is an error.
        assert_eq!(
            collect(&["/nonexistent/textfile/dir"]),
            format!("{ERROR_HELP}node_textfile_scrape_error 1\n")
        );
    }

    /// What node_exporter 1.5.0 printed for this directory, except where 1.12 differs: b.prom
    /// contradicts a.prom's HELP, which 1.12 reports as a textfile error and drops.
    #[test]
    fn directory_end_to_end() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tf1");
        write_prom(
            &dir,
            &[
                (
                    "a.prom",
                    "# HELP my_gauge A gauge.\n\
                     # TYPE my_gauge gauge\n\
                     my_gauge{a=\"1\"} 1\n\
                     my_gauge{b=\"x y\"} 2\n\
                     my_gauge 3e6\n\
                     # TYPE my_hist histogram\n\
                     my_hist_bucket{le=\"0.5\",x=\"1\"} 1\n\
                     my_hist_bucket{le=\"1.0\",x=\"1\"} 2\n\
                     my_hist_sum{x=\"1\"} 3.5\n\
                     my_hist_count{x=\"1\"} 4\n\
                     # TYPE my_sum summary\n\
                     my_sum{quantile=\"0.99\"} 5\n\
                     my_sum{quantile=\"0.5\"} 4\n\
                     my_sum_sum 10\n\
                     my_sum_count 3\n\
                     untyped_one 1\n\
                     escaped{v=\"a\\\"b\\\\c\\nd\"} 1\n",
                ),
                (
                    "b.prom",
                    "# HELP my_gauge Another help.\nmy_gauge{a=\"2\"} 1\n",
                ),
                ("c.prom", "bad_nolf 1"),
                ("d.prom", "ts_metric 1 1234\n"),
                ("e.prom", "other_metric{a=\"1\"} 1\n"),
                ("notes.txt", "not a metric\n"),
            ],
        );
        let d = dir.to_str().unwrap();
        assert_eq!(
            collect(&[d]),
            format!(
                "# HELP escaped Metric read from {d}/a.prom
# TYPE escaped untyped
escaped{{v=\"a\\\"b\\\\c\\nd\"}} 1
# HELP my_gauge A gauge.
# TYPE my_gauge gauge
my_gauge{{a=\"\",b=\"\"}} 3e+06
my_gauge{{a=\"\",b=\"x y\"}} 2
my_gauge{{a=\"1\",b=\"\"}} 1
# HELP my_hist Metric read from {d}/a.prom
# TYPE my_hist histogram
my_hist_bucket{{x=\"1\",le=\"0.5\"}} 1
my_hist_bucket{{x=\"1\",le=\"1\"}} 2
my_hist_bucket{{x=\"1\",le=\"+Inf\"}} 4
my_hist_sum{{x=\"1\"}} 3.5
my_hist_count{{x=\"1\"}} 4
# HELP my_sum Metric read from {d}/a.prom
# TYPE my_sum summary
my_sum{{quantile=\"0.5\"}} 4
my_sum{{quantile=\"0.99\"}} 5
my_sum_sum 10
my_sum_count 3
# HELP node_textfile_mtime_seconds Unixtime mtime of textfiles successfully read.
# TYPE node_textfile_mtime_seconds gauge
node_textfile_mtime_seconds{{file=\"{d}/a.prom\"}} 1.704164645e+09
node_textfile_mtime_seconds{{file=\"{d}/b.prom\"}} 1.704164645e+09
node_textfile_mtime_seconds{{file=\"{d}/e.prom\"}} 1.704164645e+09
{ERROR_HELP}node_textfile_scrape_error 1
# HELP other_metric Metric read from {d}/e.prom
# TYPE other_metric untyped
other_metric{{a=\"1\"}} 1
# HELP untyped_one Metric read from {d}/a.prom
# TYPE untyped_one untyped
untyped_one 1
"
            )
        );
    }

    #[test]
    fn several_directories_and_globs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_str().unwrap();
        write_prom(
            &tmp.path().join("node-a"),
            &[("x.prom", "shared{dir=\"a\"} 1\n")],
        );
        write_prom(
            &tmp.path().join("node-b"),
            &[("x.prom", "shared{dir=\"b\"} 2\n")],
        );
        write_prom(
            &tmp.path().join("extra"),
            &[("y.prom", "shared{dir=\"c\"} 3\n")],
        );
        let text = collect(&[&format!("{root}/node-*"), &format!("{root}/extra/")]);
        assert!(text.contains(&format!(
            "# HELP shared Metric read from {root}/node-a/x.prom, {root}/node-b/x.prom, {root}/extra/y.prom\n"
        )), "{text}");
        assert!(text.contains("shared{dir=\"a\"} 1\nshared{dir=\"b\"} 2\nshared{dir=\"c\"} 3\n"));
        assert!(text.contains("node_textfile_scrape_error 0\n"));
        // A glob that also matches a plain file: reading it as a directory is an error.
        fs::write(tmp.path().join("node-file"), "").unwrap();
        assert!(collect(&[&format!("{root}/node-*")]).contains("node_textfile_scrape_error 1\n"));
    }

    #[test]
    fn registry_rules_between_files() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_str().unwrap();
        write_prom(
            tmp.path(),
            &[
                // The first HELP and TYPE of a name win; conflicting series are dropped
                // without a textfile error.
                ("1.prom", "# TYPE t gauge\n# HELP t T.\nt{x=\"1\"} 1\ndup 1\n# TYPE s summary\ns_sum 1\ns_count 1\n"),
                ("2.prom", "# TYPE t counter\n# HELP t T.\nt{x=\"2\"} 2\ndup 2\ns_count 5\n"),
                // Same HELP, same TYPE: merged.
                ("3.prom", "# TYPE t gauge\n# HELP t T.\nt{x=\"3\"} 3\n"),
                // A HELP contradicting the first one: error, and the name stays poisoned
                // for later files even when they agree again.
                ("4.prom", "# HELP t Other.\nt{x=\"4\"} 4\n"),
                ("5.prom", "# TYPE t gauge\n# HELP t T.\nt{x=\"5\"} 5\n"),
            ],
        );
        let text = collect(&[d]);
        assert!(
            text.ends_with("# TYPE t gauge\nt{x=\"1\"} 1\nt{x=\"3\"} 3\n"),
            "{text}"
        );
        assert!(text.contains(&format!("# HELP dup Metric read from {d}/1.prom, {d}/2.prom\n# TYPE dup untyped\ndup 1\n# HELP")), "{text}");
        // `s_count` from 2.prom is untyped there and collides with the summary `s`.
        assert!(text.contains("s_sum 1\ns_count 1\n"));
        assert!(!text.contains("s_count 5"), "{text}");
        assert!(text.contains("node_textfile_scrape_error 1\n"));
        // 4.prom and 5.prom still count as read.
        assert!(text.contains(&format!(
            "node_textfile_mtime_seconds{{file=\"{d}/5.prom\"}}"
        )));
    }

    #[test]
    fn help_from_one_file_only() {
        // a.prom gives HELP, b.prom none: b's series get the generated help text, which then
        // differs from a's, and the registry drops them (no textfile error).
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_str().unwrap();
        write_prom(
            tmp.path(),
            &[
                ("a.prom", "# HELP m From a.\nm{f=\"a\"} 1\n"),
                ("b.prom", "m{f=\"b\"} 2\n"),
            ],
        );
        let text = collect(&[d]);
        assert!(
            text.starts_with("# HELP m From a.\n# TYPE m untyped\nm{f=\"a\"} 1\n# HELP node"),
            "{text}"
        );
        assert!(text.contains("node_textfile_scrape_error 0\n"));
    }

    #[test]
    fn reserved_label_names_reject_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        write_prom(
            tmp.path(),
            &[("a.prom", "m{__x=\"1\"} 1\n"), ("b.prom", "ok 1\n")],
        );
        let text = collect(&[tmp.path().to_str().unwrap()]);
        assert!(!text.contains("m{") && text.contains("ok 1\n"));
        assert!(text.contains("node_textfile_scrape_error 1\n"));
    }

    #[test]
    fn histogram_and_summary_series_are_sorted_like_client_golang() {
        let tmp = tempfile::tempdir().unwrap();
        write_prom(
            tmp.path(),
            &[(
                "h.prom",
                "# TYPE h histogram\n\
                 h_bucket{x=\"b\",le=\"+Inf\"} 2\nh_count{x=\"b\"} 2\n\
                 h_bucket{x=\"a\",le=\"10\"} 1\nh_bucket{x=\"a\",le=\"1e-3\"} 0\nh_bucket{x=\"a\",le=\"10\"} 3\nh_count{x=\"a\"} 3\nh_sum{x=\"a\"} 0.25\n",
            )],
        );
        let text = collect(&[tmp.path().to_str().unwrap()]);
        assert!(
            text.contains(
                "# TYPE h histogram
h_bucket{x=\"a\",le=\"0.001\"} 0
h_bucket{x=\"a\",le=\"10\"} 3
h_bucket{x=\"a\",le=\"+Inf\"} 3
h_sum{x=\"a\"} 0.25
h_count{x=\"a\"} 3
h_bucket{x=\"b\",le=\"+Inf\"} 2
h_sum{x=\"b\"} 0
h_count{x=\"b\"} 2
"
            ),
            "{text}"
        );
    }
}
