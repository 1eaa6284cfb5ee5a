//! The `xfrm` collector (off by default): IPsec transformation error counters,
//! `node_xfrm_*_packets_total`, from `<procfs>/net/xfrm_stat`, as node_exporter's `xfrm.go` does
//! (through procfs's `NewXfrmStat`: keys it does not know are ignored, missing ones read 0).

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Xfrm {
        path: paths.proc("net/xfrm_stat"),
    }))
}

struct Xfrm {
    path: PathBuf,
}

/// `(key in xfrm_stat, metric name after node_xfrm_, HELP)`, in upstream's order. The kernel's
/// meaning of each key is in `Documentation/networking/xfrm_proc.rst`.
const COUNTERS: &[(&str, &str, &str)] = &[
    (
        "XfrmInError",
        "in_error_packets_total",
        "All errors not matched by other",
    ),
    (
        "XfrmInBufferError",
        "in_buffer_error_packets_total",
        "No buffer is left",
    ),
    (
        "XfrmInHdrError",
        "in_hdr_error_packets_total",
        "Header error",
    ),
    (
        "XfrmInNoStates",
        "in_no_states_packets_total",
        "No state is found i.e. Either inbound SPI, address, or IPsec protocol at SA is wrong",
    ),
    (
        "XfrmInStateProtoError",
        "in_state_proto_error_packets_total",
        "Transformation protocol specific error e.g. SA key is wrong",
    ),
    (
        "XfrmInStateModeError",
        "in_state_mode_error_packets_total",
        "Transformation mode specific error",
    ),
    (
        "XfrmInStateSeqError",
        "in_state_seq_error_packets_total",
        "Sequence error i.e. Sequence number is out of window",
    ),
    (
        "XfrmInStateExpired",
        "in_state_expired_packets_total",
        "State is expired",
    ),
    (
        "XfrmInStateMismatch",
        "in_state_mismatch_packets_total",
        "State has mismatch option e.g. UDP encapsulation type is mismatch",
    ),
    (
        "XfrmInStateInvalid",
        "in_state_invalid_packets_total",
        "State is invalid",
    ),
    (
        "XfrmInTmplMismatch",
        "in_tmpl_mismatch_packets_total",
        "No matching template for states e.g. Inbound SAs are correct but SP rule is wrong",
    ),
    (
        "XfrmInNoPols",
        "in_no_pols_packets_total",
        "No policy is found for states e.g. Inbound SAs are correct but no SP is found",
    ),
    (
        "XfrmInPolBlock",
        "in_pol_block_packets_total",
        "Policy discards",
    ),
    (
        "XfrmInPolError",
        "in_pol_error_packets_total",
        "Policy error",
    ),
    (
        "XfrmOutError",
        "out_error_packets_total",
        "All errors which is not matched others",
    ),
    (
        "XfrmOutBundleGenError",
        "out_bundle_gen_error_packets_total",
        "Bundle generation error",
    ),
    (
        "XfrmOutBundleCheckError",
        "out_bundle_check_error_packets_total",
        "Bundle check error",
    ),
    (
        "XfrmOutNoStates",
        "out_no_states_packets_total",
        "No state is found",
    ),
    (
        "XfrmOutStateProtoError",
        "out_state_proto_error_packets_total",
        "Transformation protocol specific error",
    ),
    (
        "XfrmOutStateModeError",
        "out_state_mode_error_packets_total",
        "Transformation mode specific error",
    ),
    (
        "XfrmOutStateSeqError",
        "out_state_seq_error_packets_total",
        "Sequence error i.e. Sequence number overflow",
    ),
    (
        "XfrmOutStateExpired",
        "out_state_expired_packets_total",
        "State is expired",
    ),
    (
        "XfrmOutPolBlock",
        "out_pol_block_packets_total",
        "Policy discards",
    ),
    (
        "XfrmOutPolDead",
        "out_pol_dead_packets_total",
        "Policy is dead",
    ),
    (
        "XfrmOutPolError",
        "out_pol_error_packets_total",
        "Policy error",
    ),
    (
        "XfrmFwdHdrError",
        "fwd_hdr_error_packets_total",
        "Forward routing of a packet is not allowed",
    ),
    (
        "XfrmOutStateInvalid",
        "out_state_invalid_packets_total",
        "State is invalid, perhaps expired",
    ),
    (
        "XfrmAcquireError",
        "acquire_error_packets_total",
        "State hasn’t been fully acquired before use",
    ),
];

impl Collector for Xfrm {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let values =
            parse_xfrm_stat(&text).map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display()))?;
        for ((_, name, help), value) in COUNTERS.iter().zip(values) {
            out.counter(&format!("node_xfrm_{name}"), help, &[], value as f64);
        }
        Ok(())
    }
}

/// The values of [`COUNTERS`] in order from `XfrmInError  0` lines; a line that is not a key
/// and an integer fails the whole file, as procfs does.
pub fn parse_xfrm_stat(text: &str) -> Result<Vec<u64>, String> {
    let mut values = vec![0u64; COUNTERS.len()];
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [key, value] = fields[..] else {
            if fields.is_empty() {
                continue;
            }
            return Err(format!("couldn't parse line {line:?}"));
        };
        let value: u64 = value
            .parse()
            .map_err(|_| format!("couldn't parse value in line {line:?}"))?;
        if let Some(i) = COUNTERS.iter().position(|(k, _, _)| *k == key) {
            values[i] = value;
        }
    }
    Ok(values)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_file};

    #[test]
    fn reads_the_counters() {
        let dir = tempfile::tempdir().unwrap();
        // The first lines of upstream's fixture shape (collector/fixtures/proc/net/xfrm_stat),
        // tab-separated as the kernel prints them.
        write_file(
            &dir.path().join("net/xfrm_stat"),
            "XfrmInError             \t1\nXfrmInBufferError       \t2\nXfrmAcquireError        \t24\nXfrmNewKey\t9\n",
        );
        let t = render(
            build(&proc_at(dir.path()), &Args::default())
                .unwrap()
                .as_ref(),
        )
        .unwrap();
        assert!(t.contains("# TYPE node_xfrm_in_error_packets_total counter\nnode_xfrm_in_error_packets_total 1\n"), "{t}");
        assert!(
            t.contains("node_xfrm_in_buffer_error_packets_total 2\n"),
            "{t}"
        );
        assert!(
            t.contains("node_xfrm_acquire_error_packets_total 24\n"),
            "{t}"
        );
        assert!(
            t.contains("node_xfrm_out_pol_dead_packets_total 0\n"),
            "{t}"
        );
        assert_eq!(t.matches("# TYPE").count(), COUNTERS.len());
        assert!(parse_xfrm_stat("XfrmInError 1 2\n").is_err());
        assert!(parse_xfrm_stat("XfrmInError x\n").is_err());
    }

    #[test]
    fn missing_file_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let c = build(&proc_at(dir.path()), &Args::default()).unwrap();
        assert!(matches!(render(c.as_ref()), Err(CollectError::NoData(_))));
    }
}
