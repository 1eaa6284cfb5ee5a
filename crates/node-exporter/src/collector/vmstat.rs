//! The `vmstat` collector: the `/proc/vmstat` fields matching `--collector.vmstat.fields`, each
//! as an untyped `node_vmstat_<field>` (node_exporter does not know which are counters).

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::{compile_regex, MemoMatch};

/// node_exporter's default field selection.
pub const DEFAULT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
pub struct Args {
    /// Regexp of fields to return for vmstat collector.
    #[arg(long = "collector.vmstat.fields", default_value = DEFAULT_FIELDS)]
    pub fields: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            fields: DEFAULT_FIELDS.to_string(),
        }
    }
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    // Go's regexp and Rust's regex both take RE2 syntax; as in Go, the pattern is unanchored
    // unless it anchors itself.
    let fields = compile_regex("collector.vmstat.fields", &args.fields)?;
    Ok(Box::new(VmStat {
        path: paths.proc("vmstat"),
        fields: MemoMatch::new(fields),
    }))
}

struct VmStat {
    path: PathBuf,
    fields: MemoMatch,
}

impl Collector for VmStat {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        for (name, value) in parse_vmstat(&text) {
            if !self.fields.is_match(name) {
                continue;
            }
            out.untyped(
                &format!("node_vmstat_{name}"),
                &format!("/proc/vmstat information field {name}."),
                &[],
                value,
            );
        }
        Ok(())
    }
}

/// `(name, value)` per `name value` line; lines without a numeric value are skipped.
pub fn parse_vmstat(text: &str) -> impl Iterator<Item = (&str, f64)> {
    text.lines().filter_map(|line| {
        let (name, value) = line.split_once(' ')?;
        Some((name, value.trim().parse::<f64>().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render};

    // A few lines as on Linux 6.18.
    const VMSTAT: &str = "nr_free_pages 5523123\npgpgin 1205960\npgpgout 3050072\npswpin 0\n\
pswpout 0\npgfault 12712683\npgmajfault 3401\noom_kill 1\nworkingset_refault_anon 0\nbroken\n";

    #[test]
    fn parses() {
        let v: Vec<_> = parse_vmstat(VMSTAT).collect();
        assert_eq!(v.len(), 9);
        assert_eq!(v[0], ("nr_free_pages", 5523123.0));
        assert_eq!(v[7], ("oom_kill", 1.0));
    }

    fn scrape(args: &Args) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vmstat"), VMSTAT).unwrap();
        render(&*build(&proc_at(dir.path()), args).unwrap()).unwrap()
    }

    #[test]
    fn default_fields() {
        let text = scrape(&Args::default());
        let names: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            names,
            [
                "node_vmstat_oom_kill 1",
                "node_vmstat_pgfault 1.2712683e+07",
                "node_vmstat_pgmajfault 3401",
                "node_vmstat_pgpgin 1.20596e+06",
                "node_vmstat_pgpgout 3.050072e+06",
                "node_vmstat_pswpin 0",
                "node_vmstat_pswpout 0",
            ]
        );
        assert!(text.contains(
            "# HELP node_vmstat_oom_kill /proc/vmstat information field oom_kill.\n# TYPE node_vmstat_oom_kill untyped\n"
        ));
    }

    #[test]
    fn custom_fields_and_bad_regex() {
        let text = scrape(&Args {
            fields: "^nr_".into(),
        });
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 1);
        // Unanchored, as Go's MatchString.
        let text = scrape(&Args {
            fields: "refault".into(),
        });
        assert!(text.contains("node_vmstat_workingset_refault_anon 0\n"));
        let e = build(&Paths::default(), &Args { fields: "(".into() })
            .err()
            .unwrap();
        assert!(e
            .to_string()
            .starts_with("--collector.vmstat.fields: bad regular expression"));
    }

    #[test]
    fn flag_default() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: Args,
        }
        assert_eq!(T::parse_from(["t"]).a.fields, DEFAULT_FIELDS);
        assert_eq!(
            T::parse_from(["t", "--collector.vmstat.fields=^pg"])
                .a
                .fields,
            "^pg"
        );
    }
}
