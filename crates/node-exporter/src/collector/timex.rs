//! The `timex` collector: the kernel's clock discipline state from adjtimex(2) (read only:
//! `modes` is 0), converted to seconds, ratios and hertz exactly as node_exporter does.
//!
//! Where adjtimex is not allowed (a seccomp profile: EPERM or EACCES) there is no data.

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(_paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Timex))
}

struct Timex;

/// The adjtimex(2) fields node_exporter uses, widened to i64.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct TimexState {
    /// The return value: the clock state (TIME_OK .. TIME_ERROR).
    pub state: i32,
    pub offset: i64,
    pub freq: i64,
    pub maxerror: i64,
    pub esterror: i64,
    pub status: i32,
    pub constant: i64,
    pub tick: i64,
    pub ppsfreq: i64,
    pub jitter: i64,
    pub shift: i32,
    pub stabil: i64,
    pub jitcnt: i64,
    pub calcnt: i64,
    pub errcnt: i64,
    pub stbcnt: i64,
    pub tai: i32,
}

/// The clock is not synchronised to a reliable server.
const TIME_ERROR: i32 = 5;
/// `status` bit: `offset` and `jitter` are in nanoseconds rather than microseconds.
const STA_NANO: i32 = 0x2000;
/// Frequencies are in parts per million with a 16-bit fraction (adjtimex(2), NOTES).
const PPM16FRAC: f64 = 1000000.0 * 65536.0;
const MICRO: f64 = 1000000.0;
const NANO: f64 = 1000000000.0;

impl Collector for Timex {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let t = read_timex().map_err(|e| {
            // Go's os.ErrPermission, which node_exporter checks, covers both.
            if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
                CollectError::NoData(format!("not collecting timex metrics: {e}"))
            } else {
                anyhow::anyhow!("failed to retrieve adjtimex stats: {e}").into()
            }
        })?;
        for (name, help, counter, value) in metrics(&t) {
            if counter {
                out.counter(name, help, &[], value);
            } else {
                out.gauge(name, help, &[], value);
            }
        }
        Ok(())
    }
}

// c_long is i64 here but i32 on 32-bit targets, where the conversions are needed.
#[allow(clippy::useless_conversion)]
fn read_timex() -> std::io::Result<TimexState> {
    // SAFETY: timex is plain integers, valid when zeroed; modes == 0 makes adjtimex read-only,
    // and it writes only into the struct we pass.
    let (state, t) = unsafe {
        let mut t: libc::timex = std::mem::zeroed();
        let state = libc::adjtimex(&mut t);
        (state, t)
    };
    if state == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(TimexState {
        state,
        offset: i64::from(t.offset),
        freq: i64::from(t.freq),
        maxerror: i64::from(t.maxerror),
        esterror: i64::from(t.esterror),
        status: t.status,
        constant: i64::from(t.constant),
        tick: i64::from(t.tick),
        ppsfreq: i64::from(t.ppsfreq),
        jitter: i64::from(t.jitter),
        shift: t.shift,
        stabil: i64::from(t.stabil),
        jitcnt: i64::from(t.jitcnt),
        calcnt: i64::from(t.calcnt),
        errcnt: i64::from(t.errcnt),
        stbcnt: i64::from(t.stbcnt),
        tai: t.tai,
    })
}

/// `(name, help, is_counter, value)` for every metric, converted as node_exporter converts.
pub fn metrics(t: &TimexState) -> Vec<(&'static str, &'static str, bool, f64)> {
    let sync = if t.state == TIME_ERROR { 0.0 } else { 1.0 };
    let divisor = if t.status & STA_NANO != 0 {
        NANO
    } else {
        MICRO
    };
    vec![
        (
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            false,
            sync,
        ),
        (
            "node_timex_offset_seconds",
            "Time offset in between local system and reference clock.",
            false,
            t.offset as f64 / divisor,
        ),
        (
            "node_timex_frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            false,
            1.0 + t.freq as f64 / PPM16FRAC,
        ),
        (
            "node_timex_maxerror_seconds",
            "Maximum error in seconds.",
            false,
            t.maxerror as f64 / MICRO,
        ),
        (
            "node_timex_estimated_error_seconds",
            "Estimated error in seconds.",
            false,
            t.esterror as f64 / MICRO,
        ),
        (
            "node_timex_status",
            "Value of the status array bits.",
            false,
            f64::from(t.status),
        ),
        (
            "node_timex_loop_time_constant",
            "Phase-locked loop time constant.",
            false,
            t.constant as f64,
        ),
        (
            "node_timex_tick_seconds",
            "Seconds between clock ticks.",
            false,
            t.tick as f64 / MICRO,
        ),
        (
            "node_timex_pps_frequency_hertz",
            "Pulse per second frequency.",
            false,
            t.ppsfreq as f64 / PPM16FRAC,
        ),
        (
            "node_timex_pps_jitter_seconds",
            "Pulse per second jitter.",
            false,
            t.jitter as f64 / divisor,
        ),
        (
            "node_timex_pps_shift_seconds",
            "Pulse per second interval duration.",
            false,
            f64::from(t.shift),
        ),
        (
            "node_timex_pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            false,
            t.stabil as f64 / PPM16FRAC,
        ),
        (
            "node_timex_pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            true,
            t.jitcnt as f64,
        ),
        (
            "node_timex_pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            true,
            t.calcnt as f64,
        ),
        (
            "node_timex_pps_error_total",
            "Pulse per second count of calibration errors.",
            true,
            t.errcnt as f64,
        ),
        (
            "node_timex_pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            true,
            t.stbcnt as f64,
        ),
        (
            "node_timex_tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            false,
            f64::from(t.tai),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::render;

    fn value(m: &[(&str, &str, bool, f64)], name: &str) -> f64 {
        m.iter().find(|x| x.0 == name).unwrap().3
    }

    #[test]
    fn conversions() {
        // An NTP-disciplined clock in nanosecond mode (chrony sets STA_NANO): status
        // STA_PLL|STA_NANO = 0x2001.
        let t = TimexState {
            state: 0,
            offset: -12345,
            freq: -1_234_567,
            maxerror: 250_000,
            esterror: 1_500,
            status: 0x2001,
            constant: 7,
            tick: 10_000,
            jitter: 2_000,
            tai: 37,
            ..Default::default()
        };
        let m = metrics(&t);
        assert_eq!(m.len(), 17);
        assert_eq!(value(&m, "node_timex_sync_status"), 1.0);
        assert_eq!(value(&m, "node_timex_offset_seconds"), -12345.0 / 1e9);
        assert_eq!(
            value(&m, "node_timex_frequency_adjustment_ratio"),
            1.0 + -1_234_567.0 / 65536e6
        );
        assert_eq!(value(&m, "node_timex_maxerror_seconds"), 0.25);
        assert_eq!(value(&m, "node_timex_estimated_error_seconds"), 0.0015);
        assert_eq!(value(&m, "node_timex_status"), 8193.0);
        assert_eq!(value(&m, "node_timex_tick_seconds"), 0.01);
        assert_eq!(value(&m, "node_timex_pps_jitter_seconds"), 2e-6);
        assert_eq!(value(&m, "node_timex_tai_offset_seconds"), 37.0);
        // Microsecond mode and an unsynchronised clock.
        let m = metrics(&TimexState {
            state: TIME_ERROR,
            offset: 500,
            status: 0x40,
            ..Default::default()
        });
        assert_eq!(value(&m, "node_timex_sync_status"), 0.0);
        assert_eq!(value(&m, "node_timex_offset_seconds"), 0.0005);
        assert!(m.iter().filter(|x| x.2).all(|x| x.0.ends_with("_total")));
    }

    #[test]
    fn reads_this_host() {
        match render(&*build(&Paths::default(), &Args::default()).unwrap()) {
            Ok(text) => {
                assert!(text.contains("# TYPE node_timex_pps_error_total counter\n"));
                assert!(text.contains("# TYPE node_timex_tick_seconds gauge\n"));
            }
            // A sandbox may forbid adjtimex.
            Err(CollectError::NoData(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
}
