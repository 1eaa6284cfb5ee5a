//! The `edac` collector: corrected and uncorrected memory errors per memory controller and
//! chip-select row, from `/sys/devices/system/edac/mc/mc*/`.
//!
//! Per channel of a row (`csrowN/chM_ce_count`, `chM_ue_count`), the counts carry the DIMM's
//! label from `chM_dimm_label`, cleaned as upstream does (`#` dropped, `csrow`/`channel` get a
//! leading `_`; `unknown` when unreadable). A channel without `chM_ue_count` has no
//! uncorrectable sample, as upstream (which logs that at debug).
//!
//! Errors the controller could not attribute to a row (`ce_noinfo_count`) are reported as
//! `csrow="unknown"`, as upstream. A host without EDAC succeeds with no samples (upstream
//! globs, and an empty glob is no error).

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectResult, Collector, Paths};
use crate::sys::go::parse_go_u64;

/// Flags of the `edac` collector (none).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Edac {
        mc_dir: paths.sys("devices/system/edac/mc"),
    }))
}

struct Edac {
    mc_dir: PathBuf,
}

/// The counts of one controller.
#[derive(Debug, PartialEq)]
pub struct Controller {
    pub number: String,
    pub ce: u64,
    pub ce_noinfo: u64,
    pub ue: u64,
    pub ue_noinfo: u64,
    /// `(csrow number, ce, ue)`.
    pub csrows: Vec<(String, u64, u64)>,
    pub channels: Vec<Channel>,
}

/// The counts of one channel of a csrow.
#[derive(Debug, PartialEq)]
pub struct Channel {
    pub csrow: String,
    pub channel: String,
    pub dimm_label: String,
    pub ce: u64,
    pub ue: Option<u64>,
}

impl Collector for Edac {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let controllers = read_controllers(&self.mc_dir)?;
        for c in &controllers {
            let ctl = [("controller", c.number.as_str())];
            out.family(
                "node_edac_correctable_errors_total",
                "Total correctable memory errors.",
                MetricType::Counter,
            )
            .sample(&ctl, c.ce as f64);
            out.family(
                "node_edac_uncorrectable_errors_total",
                "Total uncorrectable memory errors.",
                MetricType::Counter,
            )
            .sample(&ctl, c.ue as f64);
            let rows = std::iter::once(("unknown", c.ce_noinfo, c.ue_noinfo))
                .chain(c.csrows.iter().map(|(n, ce, ue)| (n.as_str(), *ce, *ue)));
            for (row, ce, ue) in rows {
                let labels = [("controller", c.number.as_str()), ("csrow", row)];
                out.family(
                    "node_edac_csrow_correctable_errors_total",
                    "Total correctable memory errors for this csrow.",
                    MetricType::Counter,
                )
                .sample(&labels, ce as f64);
                out.family(
                    "node_edac_csrow_uncorrectable_errors_total",
                    "Total uncorrectable memory errors for this csrow.",
                    MetricType::Counter,
                )
                .sample(&labels, ue as f64);
            }
            for ch in &c.channels {
                let labels = [
                    ("controller", c.number.as_str()),
                    ("csrow", ch.csrow.as_str()),
                    ("channel", ch.channel.as_str()),
                    ("dimm_label", ch.dimm_label.as_str()),
                ];
                out.family(
                    "node_edac_channel_correctable_errors_total",
                    "Total correctable memory errors for this channel.",
                    MetricType::Counter,
                )
                .sample(&labels, ch.ce as f64);
                if let Some(ue) = ch.ue {
                    out.family(
                        "node_edac_channel_uncorrectable_errors_total",
                        "Total uncorrectable memory errors for this channel.",
                        MetricType::Counter,
                    )
                    .sample(&labels, ue as f64);
                }
            }
        }
        Ok(())
    }
}

/// Entries `<prefix>[0-9]*` of `dir`, sorted, with the leading digits after the prefix.
fn numbered(dir: &Path, prefix: &str) -> Vec<(String, String)> {
    crate::sys::read::numbered_entries(dir, prefix)
        .into_iter()
        .map(|name| {
            let digits: String = name[prefix.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            (name, digits)
        })
        .collect()
}

/// The `ch<N>_ce_count` files of a csrow directory, sorted, with `N`.
fn channel_files(row_dir: &Path) -> Vec<(String, String)> {
    crate::sys::read::dir_names(row_dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| {
            let n = name.strip_prefix("ch")?.strip_suffix("_ce_count")?;
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (name.clone(), n.to_string()))
        })
        .collect()
}

/// The DIMM label of a channel, as upstream's `edacDimmLabel` cleans it.
fn dimm_label(row_dir: &Path, channel: &str) -> String {
    match std::fs::read_to_string(row_dir.join(format!("ch{channel}_dimm_label"))) {
        Ok(s) => s
            .trim()
            .replace('#', "")
            .replace("csrow", "_csrow")
            .replace("channel", "_channel"),
        Err(_) => "unknown".to_string(),
    }
}

fn read_count(path: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    parse_go_u64(&text).ok_or_else(|| anyhow::anyhow!("invalid value {:?}", text.trim()))
}

pub fn read_controllers(mc_dir: &Path) -> anyhow::Result<Vec<Controller>> {
    let mut out = Vec::new();
    for (name, number) in numbered(mc_dir, "mc") {
        let dir = mc_dir.join(&name);
        let count = |file: &str| {
            read_count(&dir.join(file))
                .map_err(|e| anyhow::anyhow!("couldn't get {file} for controller {number}: {e}"))
        };
        let ce = count("ce_count")?;
        let ce_noinfo = count("ce_noinfo_count")?;
        let ue = count("ue_count")?;
        let ue_noinfo = count("ue_noinfo_count")?;
        let mut csrows = Vec::new();
        let mut channels = Vec::new();
        for (row_name, row) in numbered(&dir, "csrow") {
            let row_dir = dir.join(&row_name);
            let count = |file: &str| {
                read_count(&row_dir.join(file)).map_err(|e| {
                    anyhow::anyhow!("couldn't get {file} for controller/csrow {number}/{row}: {e}")
                })
            };
            csrows.push((row.clone(), count("ce_count")?, count("ue_count")?));
            for (file, channel) in channel_files(&row_dir) {
                let ce = read_count(&row_dir.join(&file)).map_err(|e| {
                    anyhow::anyhow!(
                        "couldn't get ce_count for controller/csrow/channel {number}/{row}/{channel}: {e}"
                    )
                })?;
                let ue = read_count(&row_dir.join(format!("ch{channel}_ue_count"))).ok();
                channels.push(Channel {
                    csrow: row.clone(),
                    dimm_label: dimm_label(&row_dir, &channel),
                    channel,
                    ce,
                    ue,
                });
            }
        }
        out.push(Controller {
            number: number.clone(),
            ce,
            ce_noinfo,
            ue,
            ue_noinfo,
            csrows,
            channels,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_files};
    use crate::collector::CollectError;
    use std::fs;

    fn collect(root: &Path) -> Result<String, CollectError> {
        render(&*build(&paths_in(root), &Args::default()).unwrap())
    }

    /// An AMD server with the amd64_edac driver: one controller, two chip-select rows.
    #[test]
    fn one_controller_two_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mc = dir.path().join("sys/devices/system/edac/mc");
        write_files(
            &mc.join("mc0"),
            &[
                ("ce_count", "1\n"),
                ("ce_noinfo_count", "2\n"),
                ("ue_count", "5\n"),
                ("ue_noinfo_count", "6\n"),
                ("mc_name", "F17h\n"),
            ],
        );
        write_files(
            &mc.join("mc0/csrow0"),
            &[("ce_count", "3\n"), ("ue_count", "4\n")],
        );
        write_files(
            &mc.join("mc0/csrow1"),
            &[("ce_count", "0\n"), ("ue_count", "0\n")],
        );
        fs::write(mc.join("power_state"), "x").unwrap();
        assert_eq!(
            collect(dir.path()).unwrap(),
            "# HELP node_edac_correctable_errors_total Total correctable memory errors.
# TYPE node_edac_correctable_errors_total counter
node_edac_correctable_errors_total{controller=\"0\"} 1
# HELP node_edac_csrow_correctable_errors_total Total correctable memory errors for this csrow.
# TYPE node_edac_csrow_correctable_errors_total counter
node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"0\"} 3
node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"1\"} 0
node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"unknown\"} 2
# HELP node_edac_csrow_uncorrectable_errors_total Total uncorrectable memory errors for this csrow.
# TYPE node_edac_csrow_uncorrectable_errors_total counter
node_edac_csrow_uncorrectable_errors_total{controller=\"0\",csrow=\"0\"} 4
node_edac_csrow_uncorrectable_errors_total{controller=\"0\",csrow=\"1\"} 0
node_edac_csrow_uncorrectable_errors_total{controller=\"0\",csrow=\"unknown\"} 6
# HELP node_edac_uncorrectable_errors_total Total uncorrectable memory errors.
# TYPE node_edac_uncorrectable_errors_total counter
node_edac_uncorrectable_errors_total{controller=\"0\"} 5
"
        );
    }

    #[test]
    fn no_edac_succeeds_and_missing_counter_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(collect(dir.path()).unwrap(), "");
        write_files(
            &dir.path().join("sys/devices/system/edac/mc/mc1"),
            &[("ce_count", "1\n")],
        );
        let e = collect(dir.path()).unwrap_err();
        assert!(
            e.to_string()
                .contains("couldn't get ce_noinfo_count for controller 1"),
            "{e}"
        );
    }

    /// Hand-made (the recording host has no EDAC): tests/fixtures/collectors/edac, two
    /// controllers with csrows and channels (Intel-style and AMD-style DIMM labels, a channel
    /// without ue_count, a two-digit channel); expected.prom is node_exporter 1.12.1's output on it.
    #[test]
    fn channels_match_upstream() {
        let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/collectors/edac");
        let c = build(
            &crate::collector::testutil::sys_at(&fx.join("sys")),
            &Args::default(),
        )
        .unwrap();
        let got = render(&*c).unwrap();
        assert_eq!(
            got,
            fs::read_to_string(fx.join("expected.prom")).unwrap(),
            "got:\n{got}"
        );
    }
}
