//! The `logind` collector (off by default): `node_logind_sessions{seat,remote,type,class}`, the
//! sessions systemd-logind knows, asked over D-Bus (zbus) as node_exporter's `logind_linux.go`.
//!
//! As upstream: every combination of the known label values is reported (zeros included) for
//! each seat plus the empty seat `""`; a session type or class logind reports that upstream does
//! not know counts as `other`; a session whose properties cannot be read is skipped.

use std::collections::HashMap;
use std::time::Duration;

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};
use zbus::zvariant::OwnedObjectPath;

use super::{CollectResult, Collector, Paths};
use crate::sys::dbus;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(_paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Logind))
}

struct Logind;

const DEST: &str = "org.freedesktop.login1";
const PATH: &str = "/org/freedesktop/login1";
const MANAGER: &str = "org.freedesktop.login1.Manager";
const SESSION: &str = "org.freedesktop.login1.Session";

const REMOTE_VALUES: [&str; 2] = ["true", "false"];
const TYPE_VALUES: [&str; 7] = [
    "other",
    "unspecified",
    "tty",
    "x11",
    "wayland",
    "mir",
    "web",
];
const CLASS_VALUES: [&str; 5] = ["other", "user", "greeter", "lock-screen", "background"];

/// A session's labels: seat, remote, type, class.
pub type SessionKey = (String, &'static str, &'static str, &'static str);

impl Collector for Logind {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let (seats, sessions) = dbus::block_on(Duration::from_secs(30), read())?;
        render(&seats, &sessions, out);
        Ok(())
    }
}

async fn read() -> anyhow::Result<(Vec<String>, HashMap<SessionKey, f64>)> {
    let conn = dbus::system_bus()
        .await
        .map_err(|e| anyhow::anyhow!("unable to connect to dbus: {e}"))?;
    let seats: Vec<(String, OwnedObjectPath)> = conn
        .call_method(Some(DEST), PATH, Some(MANAGER), "ListSeats", &())
        .await
        .and_then(|m| m.body().deserialize())
        .map_err(|e| anyhow::anyhow!("unable to get seats: {e}"))?;
    // Session id, uid, user name, seat id, object path.
    let list: Vec<(String, u32, String, String, OwnedObjectPath)> = conn
        .call_method(Some(DEST), PATH, Some(MANAGER), "ListSessions", &())
        .await
        .and_then(|m| m.body().deserialize())
        .map_err(|e| anyhow::anyhow!("unable to get sessions: {e}"))?;
    let mut sessions = HashMap::new();
    for (_, _, _, seat, path) in list {
        let get = |name: &'static str| {
            let path = path.to_string();
            let conn = &conn;
            async move { dbus::get_property(conn, Some(DEST), &path, SESSION, name).await }
        };
        let (Ok(remote), Ok(kind), Ok(class)) =
            (get("Remote").await, get("Type").await, get("Class").await)
        else {
            continue;
        };
        let (Ok(remote), Ok(kind), Ok(class)) = (
            bool::try_from(remote),
            String::try_from(kind),
            String::try_from(class),
        ) else {
            continue;
        };
        let key = (
            seat,
            if remote { "true" } else { "false" },
            known_or_other(&kind, &TYPE_VALUES),
            known_or_other(&class, &CLASS_VALUES),
        );
        *sessions.entry(key).or_default() += 1.0;
    }
    let mut seat_ids: Vec<String> = seats.into_iter().map(|(id, _)| id).collect();
    seat_ids.push(String::new());
    Ok((seat_ids, sessions))
}

fn known_or_other(v: &str, known: &[&'static str]) -> &'static str {
    known.iter().find(|k| **k == v).copied().unwrap_or("other")
}

/// Every (remote, type, class, seat) combination, counted or 0.
pub fn render(seats: &[String], sessions: &HashMap<SessionKey, f64>, out: &mut Exposition) {
    let fam = out.family(
        "node_logind_sessions",
        "Number of sessions registered in logind.",
        MetricType::Gauge,
    );
    for remote in REMOTE_VALUES {
        for kind in TYPE_VALUES {
            for class in CLASS_VALUES {
                for seat in seats {
                    let n = sessions
                        .get(&(seat.clone(), remote, kind, class))
                        .copied()
                        .unwrap_or(0.0);
                    fam.sample(
                        &[
                            ("seat", seat),
                            ("remote", remote),
                            ("type", kind),
                            ("class", class),
                        ],
                        n,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::text;

    #[test]
    fn every_combination_is_reported() {
        let seats = vec!["seat0".to_string(), String::new()];
        let sessions = HashMap::from([(("seat0".to_string(), "false", "tty", "user"), 2.0)]);
        let mut out = Exposition::new();
        render(&seats, &sessions, &mut out);
        let t = text(out);
        assert_eq!(
            t.lines()
                .filter(|l| l.starts_with("node_logind_sessions{"))
                .count(),
            2 * 7 * 5 * 2
        );
        assert!(t.contains("node_logind_sessions{class=\"user\",remote=\"false\",seat=\"seat0\",type=\"tty\"} 2\n"), "{t}");
        assert_eq!(known_or_other("unspecified", &TYPE_VALUES), "unspecified");
        assert_eq!(known_or_other("manager", &CLASS_VALUES), "other");
    }
}
