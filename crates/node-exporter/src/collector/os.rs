//! The `os` collector: `node_os_info`, `node_os_version` and `node_os_support_end_timestamp_seconds`
//! from os-release(5), `/etc/os-release` or else `/usr/lib/os-release`, seen through
//! `--path.rootfs`. The file is read on every scrape, as node_exporter does since 1.8, so an OS
//! upgrade shows without a restart.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(OsRelease {
        files: vec![
            paths.root("/etc/os-release"),
            paths.root("/usr/lib/os-release"),
        ],
    }))
}

struct OsRelease {
    files: Vec<PathBuf>,
}

/// The os-release fields node_exporter exports, in its label order.
const INFO_KEYS: [(&str, &str); 12] = [
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
];

impl Collector for OsRelease {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let mut text = None;
        for path in &self.files {
            match crate::sys::read::string(path) {
                Ok(t) => {
                    text = Some((path, t));
                    break;
                }
                Err(e) if crate::sys::read::is_missing(&e) => continue,
                Err(e) => return Err(CollectError::from_io(path, e)),
            }
        }
        let Some((path, text)) = text else {
            return Err(CollectError::NoData("no os-release file found".into()));
        };
        let env =
            parse_os_release(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let get = |k: &str| {
            env.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map_or("", |(_, v)| v.as_str())
        };
        let labels: Vec<(&str, &str)> = INFO_KEYS
            .iter()
            .map(|(label, key)| (*label, get(key)))
            .collect();
        // Validate SUPPORT_END before writing anything: a bad date fails the whole collector.
        let support_end = match get("SUPPORT_END") {
            "" => None,
            s => Some(
                parse_date(s)
                    .ok_or_else(|| anyhow::anyhow!("{}: bad SUPPORT_END {s:?}", path.display()))?,
            ),
        };
        out.gauge(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, \
             name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            &labels,
            1.0,
        );
        let version = major_minor(get("VERSION_ID"));
        if version > 0.0 {
            out.gauge(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
                &[
                    ("id", get("ID")),
                    ("id_like", get("ID_LIKE")),
                    ("name", get("NAME")),
                ],
                version,
            );
        }
        if let Some(ts) = support_end {
            out.gauge(
                "node_os_support_end_timestamp_seconds",
                "Metric containing the end-of-life date timestamp of the OS.",
                &[],
                ts as f64,
            );
        }
        Ok(())
    }
}

/// Parses os-release with the rules of the parser node_exporter uses (hashicorp/go-envparse):
/// `KEY=value` lines, an optional `export ` prefix, whitespace around key and value trimmed,
/// double quotes with `\\ \" \n \t` escapes, literal single quotes, and `#` starting a comment
/// outside quotes. A line without `=`, an empty key, an unmatched quote or a bad escape is an
/// error for the whole file. Whole-line comments are skipped.
pub fn parse_os_release(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut env = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let err = |m: &str| format!("error on line {}: {m}", i + 1);
        let (key, value) = line.split_once('=').ok_or_else(|| err("missing \"=\""))?;
        let key = key.trim();
        let key = key.strip_prefix("export ").unwrap_or(key);
        match key.bytes().next() {
            None => return Err(err("empty key")),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
            Some(_) => return Err(err("key must start with [A-Za-z_]")),
        }
        env.push((key.to_string(), unquote(value.trim()).map_err(|m| err(&m))?));
    }
    Ok(env)
}

fn unquote(value: &str) -> Result<String, String> {
    #[derive(PartialEq)]
    enum Mode {
        Normal,
        Double,
        Single,
        Escape,
    }
    let mut out = String::with_capacity(value.len());
    // Length of `out` up to its last significant (non-blank, or quoted) character, so that
    // blanks before a trailing comment are dropped.
    let mut last_sig = 0;
    let mut mode = Mode::Normal;
    for c in value.chars() {
        if (c as u32) < 32 {
            return Err(format!("{:#04x} is an invalid value character", c as u32));
        }
        match mode {
            Mode::Normal => match c {
                '"' => mode = Mode::Double,
                '\'' => mode = Mode::Single,
                '#' => {
                    out.truncate(last_sig);
                    return Ok(out);
                }
                ' ' | '\t' => out.push(c),
                _ => {
                    out.push(c);
                    last_sig = out.len();
                }
            },
            Mode::Double => match c {
                '"' => mode = Mode::Normal,
                '\\' => mode = Mode::Escape,
                _ => {
                    out.push(c);
                    last_sig = out.len();
                }
            },
            Mode::Escape => {
                out.push(match c {
                    '"' => '"',
                    '\\' => '\\',
                    'n' => '\n',
                    't' => '\t',
                    _ => return Err(format!("invalid escape sequence: {c}")),
                });
                last_sig = out.len();
                mode = Mode::Double;
            }
            Mode::Single => match c {
                '\'' => mode = Mode::Normal,
                _ => {
                    out.push(c);
                    last_sig = out.len();
                }
            },
        }
    }
    match mode {
        Mode::Normal => Ok(out),
        Mode::Double => Err("unmatched \"".into()),
        Mode::Single => Err("unmatched '".into()),
        Mode::Escape => Err("incomplete escape sequence".into()),
    }
}

/// The leading `major[.minor]` of VERSION_ID as a number (`22.04.3` is 22.04), or 0 when it does
/// not start with a digit (`rolling`), as node_exporter's `^[0-9]+\.?[0-9]*`.
pub fn major_minor(version_id: &str) -> f64 {
    let b = version_id.as_bytes();
    let mut end = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if end == 0 {
        return 0.0;
    }
    if b.get(end) == Some(&b'.') {
        end += 1;
        end += b[end..].iter().take_while(|c| c.is_ascii_digit()).count();
    }
    version_id[..end].parse().unwrap_or(0.0)
}

/// `YYYY-MM-DD` as seconds since the epoch at UTC midnight, checked as strictly as Go's
/// `time.Parse(time.DateOnly, ...)`.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month[(m - 1) as usize] {
        return None;
    }
    Some(exporter_core::civil::days_from_civil(y, m, d) * 86400)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, write_files};

    #[test]
    fn parses_env_rules() {
        let text = "NAME=\"Ubuntu\"\nVERSION_ID='22.04'\nexport ID=ubuntu\n\n# comment\n\
                    PRETTY_NAME = Ubuntu 22.04.3 LTS   # trailing\nESC=\"a\\\"b\\\\c\"\nEMPTY=\n";
        let env = parse_os_release(text).unwrap();
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("NAME"), Some("Ubuntu"));
        assert_eq!(get("VERSION_ID"), Some("22.04"));
        assert_eq!(get("ID"), Some("ubuntu"));
        assert_eq!(get("PRETTY_NAME"), Some("Ubuntu 22.04.3 LTS"));
        assert_eq!(get("ESC"), Some("a\"b\\c"));
        assert_eq!(get("EMPTY"), Some(""));
        assert!(parse_os_release("NO_EQUALS\n").is_err());
        assert!(parse_os_release("A=\"open\n").is_err());
        assert!(parse_os_release("=x\n").is_err());
        assert!(parse_os_release("1A=x\n").is_err());
        assert!(parse_os_release("A=\"\\x\"\n").is_err());
    }

    #[test]
    fn versions() {
        assert_eq!(major_minor("12"), 12.0);
        assert_eq!(major_minor("22.04"), 22.04);
        assert_eq!(major_minor("9.3.1"), 9.3);
        assert_eq!(major_minor("3."), 3.0);
        assert_eq!(major_minor("rolling"), 0.0);
        assert_eq!(major_minor(""), 0.0);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2028-06-30"), Some(1845936000));
        assert_eq!(parse_date("2024-02-29"), Some(1709164800));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("2024-1-01"), None);
        assert_eq!(parse_date("2024-01-01T00"), None);
    }

    fn scrape(files: &[(&str, &str)]) -> Result<String, CollectError> {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), files);
        let paths = Paths {
            rootfs: dir.path().to_path_buf(),
            ..Paths::default()
        };
        render(&*build(&paths, &Args::default()).unwrap())
    }

    // Debian 12's /etc/os-release.
    const DEBIAN: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n\
VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n";

    #[test]
    fn scrapes_etc_then_usr_lib() {
        let text = scrape(&[("etc/os-release", DEBIAN)]).unwrap();
        assert_eq!(
            text,
            "# HELP node_os_info A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.\n\
             # TYPE node_os_info gauge\n\
             node_os_info{build_id=\"\",id=\"debian\",id_like=\"\",image_id=\"\",image_version=\"\",name=\"Debian GNU/Linux\",pretty_name=\"Debian GNU/Linux 12 (bookworm)\",variant=\"\",variant_id=\"\",version=\"12 (bookworm)\",version_codename=\"bookworm\",version_id=\"12\"} 1\n\
             # HELP node_os_version Metric containing the major.minor part of the OS version.\n\
             # TYPE node_os_version gauge\n\
             node_os_version{id=\"debian\",id_like=\"\",name=\"Debian GNU/Linux\"} 12\n"
        );
        let fedora = "NAME=\"Fedora Linux\"\nVERSION_ID=40\nID=fedora\nSUPPORT_END=2025-05-13\n";
        let text = scrape(&[("usr/lib/os-release", fedora)]).unwrap();
        assert!(
            text.contains("node_os_version{id=\"fedora\",id_like=\"\",name=\"Fedora Linux\"} 40\n")
        );
        assert!(text.contains(
            "# HELP node_os_support_end_timestamp_seconds Metric containing the end-of-life date timestamp of the OS.\n\
             # TYPE node_os_support_end_timestamp_seconds gauge\nnode_os_support_end_timestamp_seconds 1.7470944e+09\n"
        ));
        assert!(matches!(scrape(&[]), Err(CollectError::NoData(_))));
        assert!(scrape(&[("etc/os-release", "ID=x\nSUPPORT_END=soon\n")]).is_err());
        let text = scrape(&[("etc/os-release", "ID=arch\nVERSION_ID=rolling\n")]).unwrap();
        assert!(!text.contains("node_os_version"));
    }
}
