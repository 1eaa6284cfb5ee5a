//! The `cpu_vulnerabilities` collector (default off, as upstream's
//! `collector/cpu_vulnerabilities_linux.go`): one info series per file in
//! `/sys/devices/system/cpu/vulnerabilities/`, the state and mitigation as labels.

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(CpuVulnerabilities {
        dir: paths.sys("devices/system/cpu/vulnerabilities"),
    }))
}

struct CpuVulnerabilities {
    dir: std::path::PathBuf,
}

const HELP: &str =
    "Details of each CPU vulnerability reported by sysfs. The value of the series is \
an int encoded state of the vulnerability. The same state is stored as a string in the label";

impl Collector for CpuVulnerabilities {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        // Upstream globs the directory: a kernel without it has no vulnerabilities to report,
        // which is success with no series, not an error.
        let names = match crate::sys::read::dir_names(&self.dir) {
            Ok(n) => n,
            Err(e) if crate::sys::read::is_missing(&e) => Vec::new(),
            Err(e) => return Err(CollectError::from_io(&self.dir, e)),
        };
        for name in names {
            let path = self.dir.join(&name);
            let raw = std::fs::read_to_string(&path).map_err(|e| {
                anyhow::anyhow!("failed to get vulnerabilities: {}: {e}", path.display())
            })?;
            let (state, mitigation) = parse_vulnerability(&raw);
            // Despite the HELP, upstream's value is always 1; the state is in the label.
            out.gauge(
                "node_cpu_vulnerabilities_info",
                HELP,
                &[
                    ("codename", &name),
                    ("state", state),
                    ("mitigation", &mitigation),
                ],
                1.0,
            );
        }
        Ok(())
    }
}

/// The state (`not affected`, `vulnerable`, `mitigation`, `unknown`) and mitigation text of one
/// vulnerability file, as procfs' `parseVulnerability`: the state from the (case-insensitive)
/// prefix; the mitigation is the words after the first (`Mitigation: PTI` gives `PTI`), or for a
/// text of no known state, all of it with state `unknown`.
pub fn parse_vulnerability(raw: &str) -> (&'static str, String) {
    let raw = raw.trim();
    let lower = raw.to_lowercase();
    let rest = || raw.split_whitespace().skip(1).collect::<Vec<_>>().join(" ");
    if lower.starts_with("not affected") {
        ("not affected", String::new())
    } else if lower.starts_with("vulnerable") {
        ("vulnerable", rest())
    } else if lower.starts_with("mitigation") {
        ("mitigation", rest())
    } else if lower.starts_with("unknown") {
        ("unknown", rest())
    } else {
        ("unknown", raw.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at};

    #[test]
    fn states() {
        assert_eq!(
            parse_vulnerability("Not affected\n"),
            ("not affected", String::new())
        );
        assert_eq!(
            parse_vulnerability("Vulnerable\n"),
            ("vulnerable", String::new())
        );
        assert_eq!(
            parse_vulnerability("Mitigation: Retpolines; STIBP: disabled\n"),
            ("mitigation", "Retpolines; STIBP: disabled".to_string())
        );
        assert_eq!(
            parse_vulnerability(
                "Vulnerable: Clear CPU buffers attempted, no microcode; SMT vulnerable"
            ),
            (
                "vulnerable",
                "Clear CPU buffers attempted, no microcode; SMT vulnerable".to_string()
            )
        );
        assert_eq!(
            parse_vulnerability("Processor vulnerable"),
            ("unknown", "Processor vulnerable".to_string())
        );
    }

    #[test]
    fn recorded_host() {
        // tests/fixtures/collectors/cpu_vulnerabilities: the directory as recorded on the fixture
        // host (Debian 12, Linux 6.18.44, KVM guest), 2026-12-07.
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        let vul = sys.join("devices/system/cpu/vulnerabilities");
        std::fs::create_dir_all(&vul).unwrap();
        let rec = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/collectors/cpu_vulnerabilities"
        );
        for e in std::fs::read_dir(rec).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), vul.join(e.file_name())).unwrap();
        }
        let text = render(build(&sys_at(sys), &Args {}).unwrap().as_ref()).unwrap();
        assert!(text.contains(
            "node_cpu_vulnerabilities_info{codename=\"retbleed\",mitigation=\"\",state=\"vulnerable\"} 1\n"
        ));
        assert!(text.contains(
            "node_cpu_vulnerabilities_info{codename=\"indirect_target_selection\",mitigation=\"Aligned branch/return thunks\",state=\"mitigation\"} 1\n"
        ));
    }
}
