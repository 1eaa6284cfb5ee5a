//! The `systemd` collector (off by default): unit states, a summary per state, timers' last
//! triggers, sockets' connection counts, the system state, systemd's version and the detected
//! virtualization, asked of systemd's manager over D-Bus (zbus), as node_exporter's
//! `systemd_linux.go` does through go-systemd.
//!
//! As upstream: one connection per scrape to the system bus (or, with the hidden
//! `--collector.systemd.private`, directly to `/run/systemd/private`); units filtered by the
//! anchored include/exclude patterns and `LoadState == "loaded"`; a property that cannot be
//! read drops that one sample (logged at debug). The per-unit property reads are sent
//! concurrently on the one connection rather than upstream's goroutine per metric kind.

use std::collections::BTreeMap;
use std::time::Duration;

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};
use futures_util::future::join_all;
use regex_lite::Regex;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::Connection;

use super::{CollectResult, Collector, Paths};
use crate::filter::compile_regex;
use crate::sys::dbus;

const DEFAULT_INCLUDE: &str = ".+";
const DEFAULT_EXCLUDE: &str = r".+\.(automount|device|mount|scope|slice)";

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Regexp of systemd units to include. Units must both match include and not match exclude
    /// to be included. (default: .+)
    #[arg(long = "collector.systemd.unit-include", value_name = "REGEX")]
    pub systemd_unit_include: Option<String>,

    /// DEPRECATED: Use --collector.systemd.unit-include
    #[arg(long = "collector.systemd.unit-whitelist", hide = true)]
    pub systemd_unit_whitelist: Option<String>,

    /// Regexp of systemd units to exclude. Units must both match include and not match exclude
    /// to be included. (default: .+\.(automount|device|mount|scope|slice))
    #[arg(long = "collector.systemd.unit-exclude", value_name = "REGEX")]
    pub systemd_unit_exclude: Option<String>,

    /// DEPRECATED: Use collector.systemd.unit-exclude
    #[arg(long = "collector.systemd.unit-blacklist", hide = true)]
    pub systemd_unit_blacklist: Option<String>,

    /// Establish a private, direct connection to systemd without dbus (Strongly discouraged
    /// since it requires root. For testing purposes only).
    #[arg(long = "collector.systemd.private", hide = true)]
    pub systemd_private: bool,

    /// Enables service unit tasks metrics unit_tasks_current and unit_tasks_max
    #[arg(long = "collector.systemd.enable-task-metrics")]
    pub systemd_enable_task_metrics: bool,

    /// Enables service unit metric service_restart_total
    #[arg(long = "collector.systemd.enable-restarts-metrics")]
    pub systemd_enable_restarts_metrics: bool,

    /// Enables service unit metric unit_start_time_seconds
    #[arg(long = "collector.systemd.enable-start-time-metrics")]
    pub systemd_enable_start_time_metrics: bool,
}

/// The explicit flag, else the deprecated one (given alone), else the default.
fn pick(
    new: &Option<String>,
    new_name: &str,
    old: &Option<String>,
    old_name: &str,
    default: &str,
) -> Result<String, UsageError> {
    match (new, old.as_deref().filter(|o| !o.is_empty())) {
        (Some(_), Some(_)) => Err(UsageError::new(format!(
            "--collector.systemd.{old_name} and --collector.systemd.{new_name} are mutually exclusive"
        ))),
        (Some(n), None) => Ok(n.clone()),
        (None, Some(o)) => {
            tracing::warn!("--collector.systemd.{old_name} is DEPRECATED and will be removed in 2.0.0, use --collector.systemd.{new_name}");
            Ok(o.to_string())
        }
        (None, None) => Ok(default.to_string()),
    }
}

pub fn build(_paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let include = pick(
        &args.systemd_unit_include,
        "unit-include",
        &args.systemd_unit_whitelist,
        "unit-whitelist",
        DEFAULT_INCLUDE,
    )?;
    let exclude = pick(
        &args.systemd_unit_exclude,
        "unit-exclude",
        &args.systemd_unit_blacklist,
        "unit-blacklist",
        DEFAULT_EXCLUDE,
    )?;
    Ok(Box::new(Systemd {
        include: compile_regex(
            "collector.systemd.unit-include",
            &format!("^(?:{include})$"),
        )?,
        exclude: compile_regex(
            "collector.systemd.unit-exclude",
            &format!("^(?:{exclude})$"),
        )?,
        private: args.systemd_private,
        tasks: args.systemd_enable_task_metrics,
        restarts: args.systemd_enable_restarts_metrics,
        start_time: args.systemd_enable_start_time_metrics,
    }))
}

struct Systemd {
    include: Regex,
    exclude: Regex,
    private: bool,
    tasks: bool,
    restarts: bool,
    start_time: bool,
}

/// The states every unit is reported in, one sample each.
const UNIT_STATES: [&str; 5] = ["active", "activating", "deactivating", "inactive", "failed"];
/// systemd 212 added `SystemState` and timers' `LastTriggerUSec`.
const MIN_VERSION_SYSTEM_STATE: f64 = 212.0;

const DEST: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// One entry of `ListUnits`: name, description, load state, active state, sub state, followed
/// unit, object path, job id, job type, job path.
type UnitRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

/// What the metrics need of a unit.
#[derive(Debug, Clone)]
pub struct Unit {
    pub name: String,
    pub load_state: String,
    pub active_state: String,
    pub path: String,
}

impl Collector for Systemd {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        dbus::block_on(Duration::from_secs(30), self.collect(out))?;
        Ok(())
    }
}

/// A sample for the family named by the first field: (family, name label, value).
type Sample = (&'static str, String, f64);

impl Systemd {
    async fn collect(&self, out: &mut Exposition) -> anyhow::Result<()> {
        let conn = if self.private {
            dbus::private(std::path::Path::new("/run/systemd/private")).await
        } else {
            dbus::system_bus().await
        }
        .map_err(|e| anyhow::anyhow!("couldn't get dbus connection: {e}"))?;
        let dest = (!self.private).then_some(DEST);
        let s = Session { conn: &conn, dest };

        let (version, version_full) = match s.manager_string("Version").await {
            Ok(v) => parse_version(&v),
            Err(e) => {
                tracing::debug!(err = %e, "Unable to get systemd version property, defaulting to 0");
                (0.0, String::new())
            }
        };
        out.gauge(
            "node_systemd_version",
            "Detected systemd version",
            &[("version", &version_full)],
            version,
        );
        let virt = match s.manager_string("Virtualization").await {
            Ok(v) if v.is_empty() => "none".to_string(),
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(err = %e, "Could not get Virtualization property");
                "unknown".to_string()
            }
        };
        out.gauge(
            "node_systemd_virtualization_info",
            "Detected virtualization technology",
            &[("virtualization_type", &virt)],
            1.0,
        );

        let rows: Vec<UnitRow> = conn
            .call_method(dest, MANAGER_PATH, Some(MANAGER), "ListUnits", &())
            .await
            .and_then(|m| m.body().deserialize())
            .map_err(|e| anyhow::anyhow!("couldn't get units: {e}"))?;
        let all: Vec<Unit> = rows
            .into_iter()
            .map(|r| Unit {
                name: r.0,
                load_state: r.2,
                active_state: r.3,
                path: r.6.to_string(),
            })
            .collect();

        let summary = out.family(
            "node_systemd_units",
            "Summary of systemd unit states",
            MetricType::Gauge,
        );
        for (state, n) in summarize(&all) {
            summary.sample(&[("state", &state)], n);
        }
        let units: Vec<&Unit> = all
            .iter()
            .filter(|u| {
                self.include.is_match(&u.name)
                    && !self.exclude.is_match(&u.name)
                    && u.load_state == "loaded"
            })
            .collect();

        // Unit types (and restarts) first: the unit_state samples need the type.
        let types = join_all(units.iter().map(|u| async {
            let iface = if u.name.ends_with(".service") {
                "Service"
            } else if u.name.ends_with(".mount") {
                "Mount"
            } else {
                return String::new();
            };
            s.unit_string(u, iface, "Type").await.unwrap_or_default()
        }))
        .await;
        let state = out.family("node_systemd_unit_state", "Systemd unit", MetricType::Gauge);
        for (u, kind) in units.iter().zip(&types) {
            for st in UNIT_STATES {
                let v = if u.active_state == st { 1.0 } else { 0.0 };
                state.sample(&[("name", &u.name), ("state", st), ("type", kind)], v);
            }
        }

        let mut samples: Vec<Sample> = Vec::new();
        let services: Vec<&&Unit> = units
            .iter()
            .filter(|u| u.name.ends_with(".service"))
            .collect();
        if self.restarts {
            for (u, v) in services.iter().zip(
                join_all(
                    services
                        .iter()
                        .map(|u| s.unit_u32(u, "Service", "NRestarts")),
                )
                .await,
            ) {
                if let Some(v) = v {
                    samples.push((
                        "node_systemd_service_restart_total",
                        u.name.clone(),
                        f64::from(v),
                    ));
                }
            }
        }
        if self.start_time {
            let times = join_all(units.iter().map(|u| async {
                if u.active_state != "active" {
                    return Some(0);
                }
                s.unit_u64(u, "Unit", "ActiveEnterTimestamp").await
            }))
            .await;
            for (u, t) in units.iter().zip(times) {
                if let Some(t) = t {
                    samples.push((
                        "node_systemd_unit_start_time_seconds",
                        u.name.clone(),
                        t as f64 / 1e6,
                    ));
                }
            }
        }
        if self.tasks {
            for (u, (cur, max)) in services.iter().zip(
                join_all(services.iter().map(|u| async {
                    (
                        s.unit_u64(u, "Service", "TasksCurrent").await,
                        s.unit_u64(u, "Service", "TasksMax").await,
                    )
                }))
                .await,
            ) {
                // u64::MAX is systemd's "no limit" / "not counted".
                if let Some(v) = cur.filter(|&v| v != u64::MAX) {
                    samples.push(("node_systemd_unit_tasks_current", u.name.clone(), v as f64));
                }
                if let Some(v) = max.filter(|&v| v != u64::MAX) {
                    samples.push(("node_systemd_unit_tasks_max", u.name.clone(), v as f64));
                }
            }
        }
        if version >= MIN_VERSION_SYSTEM_STATE {
            let timers: Vec<&&Unit> = units
                .iter()
                .filter(|u| u.name.ends_with(".timer"))
                .collect();
            for (u, v) in timers.iter().zip(
                join_all(
                    timers
                        .iter()
                        .map(|u| s.unit_u64(u, "Timer", "LastTriggerUSec")),
                )
                .await,
            ) {
                if let Some(v) = v {
                    samples.push((
                        "node_systemd_timer_last_trigger_seconds",
                        u.name.clone(),
                        v as f64 / 1e6,
                    ));
                }
            }
        }
        let sockets: Vec<&&Unit> = units
            .iter()
            .filter(|u| u.name.ends_with(".socket"))
            .collect();
        let counts = join_all(sockets.iter().map(|u| async {
            // Upstream stops at the first property it cannot read.
            let accepted = s.unit_u32(u, "Socket", "NAccepted").await?;
            let current = s.unit_u32(u, "Socket", "NConnections").await;
            let refused = match current {
                Some(_) => s.unit_u32(u, "Socket", "NRefused").await,
                None => None,
            };
            Some((accepted, current, refused))
        }))
        .await;
        for (u, c) in sockets.iter().zip(counts) {
            let Some((accepted, current, refused)) = c else {
                continue;
            };
            samples.push((
                "node_systemd_socket_accepted_connections_total",
                u.name.clone(),
                f64::from(accepted),
            ));
            if let Some(v) = current {
                samples.push((
                    "node_systemd_socket_current_connections",
                    u.name.clone(),
                    f64::from(v),
                ));
            }
            if let Some(v) = refused {
                samples.push((
                    "node_systemd_socket_refused_connections_total",
                    u.name.clone(),
                    f64::from(v),
                ));
            }
        }
        for (family, name, value) in samples {
            let (help, kind) = family_meta(family);
            out.family(family, help, kind)
                .sample(&[("name", &name)], value);
        }

        if version >= MIN_VERSION_SYSTEM_STATE {
            let st = s
                .manager_string("SystemState")
                .await
                .map_err(|e| anyhow::anyhow!("couldn't get system state: {e}"))?;
            out.gauge(
                "node_systemd_system_running",
                "Whether the system is operational (see 'systemctl is-system-running')",
                &[],
                if st == "running" { 1.0 } else { 0.0 },
            );
        }
        Ok(())
    }
}

/// HELP and TYPE of the per-unit families, as upstream declares them (the refused-connections
/// counter is a gauge there, and stays one here).
fn family_meta(family: &str) -> (&'static str, MetricType) {
    match family {
        "node_systemd_service_restart_total" => (
            "Service unit count of Restart triggers",
            MetricType::Counter,
        ),
        "node_systemd_unit_start_time_seconds" => (
            "Start time of the unit since unix epoch in seconds.",
            MetricType::Gauge,
        ),
        "node_systemd_unit_tasks_current" => (
            "Current number of tasks per Systemd unit",
            MetricType::Gauge,
        ),
        "node_systemd_unit_tasks_max" => (
            "Maximum number of tasks per Systemd unit",
            MetricType::Gauge,
        ),
        "node_systemd_timer_last_trigger_seconds" => {
            ("Seconds since epoch of last trigger.", MetricType::Gauge)
        }
        "node_systemd_socket_accepted_connections_total" => (
            "Total number of accepted socket connections",
            MetricType::Counter,
        ),
        "node_systemd_socket_current_connections" => {
            ("Current number of socket connections", MetricType::Gauge)
        }
        _ => (
            "Total number of refused socket connections",
            MetricType::Gauge,
        ),
    }
}

struct Session<'a> {
    conn: &'a Connection,
    dest: Option<&'static str>,
}

impl Session<'_> {
    async fn manager_string(&self, name: &str) -> anyhow::Result<String> {
        let v = dbus::get_property(self.conn, self.dest, MANAGER_PATH, MANAGER, name).await?;
        Ok(String::try_from(v)?)
    }

    async fn unit_value(&self, u: &Unit, iface: &str, name: &str) -> Option<OwnedValue> {
        let iface = format!("org.freedesktop.systemd1.{iface}");
        match dbus::get_property(self.conn, self.dest, &u.path, &iface, name).await {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(unit = %u.name, property = name, err = %e, "couldn't get unit property");
                None
            }
        }
    }

    async fn unit_string(&self, u: &Unit, iface: &str, name: &str) -> Option<String> {
        String::try_from(self.unit_value(u, iface, name).await?).ok()
    }

    async fn unit_u32(&self, u: &Unit, iface: &str, name: &str) -> Option<u32> {
        u32::try_from(self.unit_value(u, iface, name).await?).ok()
    }

    async fn unit_u64(&self, u: &Unit, iface: &str, name: &str) -> Option<u64> {
        u64::try_from(self.unit_value(u, iface, name).await?).ok()
    }
}

/// The units per active state: the five known ones always, others as systemd reports them.
pub fn summarize(units: &[Unit]) -> BTreeMap<String, f64> {
    let mut m: BTreeMap<String, f64> = UNIT_STATES.iter().map(|s| (s.to_string(), 0.0)).collect();
    for u in units {
        *m.entry(u.active_state.clone()).or_default() += 1.0;
    }
    m
}

/// The version number (the first run of three or more digits, with an optional `.minor`) and
/// the full version string: `"252.39-1~deb12u1"` is 252.39. Unparsable is 0 with an empty label.
pub fn parse_version(v: &str) -> (f64, String) {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i - start < 3 {
            continue;
        }
        let mut end = i;
        if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            end = i + 1;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
        }
        if let Ok(n) = v[start..end].parse() {
            return (n, v.to_string());
        }
        return (0.0, String::new());
    }
    (0.0, String::new())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn versions_like_upstream() {
        assert_eq!(
            parse_version("252.39-1~deb12u1"),
            (252.39, "252.39-1~deb12u1".into())
        );
        assert_eq!(parse_version("v245"), (245.0, "v245".into()));
        assert_eq!(parse_version("12 then 257"), (257.0, "12 then 257".into()));
        assert_eq!(parse_version("none"), (0.0, String::new()));
    }

    #[test]
    fn flags() {
        let a = Args {
            systemd_unit_include: Some("a".into()),
            systemd_unit_whitelist: Some("b".into()),
            ..Args::default()
        };
        assert!(build(&Paths::default(), &a).is_err());
        let a = Args {
            systemd_unit_blacklist: Some("b".into()),
            ..Args::default()
        };
        assert!(build(&Paths::default(), &a).is_ok());
        let a = Args {
            systemd_unit_include: Some("(".into()),
            ..Args::default()
        };
        assert!(build(&Paths::default(), &a).is_err());
    }

    #[test]
    fn summary_keeps_the_five_states() {
        let u = |s: &str| Unit {
            name: "x".into(),
            load_state: "loaded".into(),
            active_state: s.into(),
            path: "/".into(),
        };
        let m = summarize(&[u("active"), u("active"), u("reloading")]);
        assert_eq!(m["active"], 2.0);
        assert_eq!(m["failed"], 0.0);
        assert_eq!(m["reloading"], 1.0);
        assert_eq!(m.len(), 6);
    }
}
