//! The `processes` collector (off by default, as upstream): how many processes and threads
//! there are, in which state, against the kernel's limits, from `/proc/<pid>/stat`,
//! `/proc/<pid>/task/<tid>/stat`, `/proc/sys/kernel/threads-max` and `/proc/sys/kernel/pid_max`.
//! As upstream's `processes_linux.go`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::read;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Processes {
        proc: paths.procfs.clone(),
    }))
}

struct Processes {
    proc: PathBuf,
}

/// What one pass over `/proc` found.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    pids: u64,
    threads: u64,
    states: BTreeMap<String, u64>,
    thread_states: BTreeMap<String, u64>,
}

impl Collector for Processes {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let c = count(&self.proc)
            .map_err(|e| anyhow::anyhow!("unable to retrieve number of allocated threads: {e}"))?;
        out.gauge(
            "node_processes_threads",
            "Allocated threads in system",
            &[],
            c.threads as f64,
        );
        let threads_max = read_limit(&self.proc.join("sys/kernel/threads-max"))
            .map_err(|e| anyhow::anyhow!("unable to retrieve limit number of threads: {e}"))?;
        out.gauge(
            "node_processes_max_threads",
            "Limit of threads in the system",
            &[],
            threads_max as f64,
        );
        for (state, n) in &c.states {
            out.gauge(
                "node_processes_state",
                "Number of processes in each state.",
                &[("state", state)],
                *n as f64,
            );
        }
        for (state, n) in &c.thread_states {
            out.gauge(
                "node_processes_threads_state",
                "Number of threads in each state.",
                &[("thread_state", state)],
                *n as f64,
            );
        }
        let pid_max = read_limit(&self.proc.join("sys/kernel/pid_max")).map_err(|e| {
            anyhow::anyhow!("unable to retrieve limit number of maximum pids allowed: {e}")
        })?;
        out.gauge("node_processes_pids", "Number of PIDs", &[], c.pids as f64);
        out.gauge(
            "node_processes_max_processes",
            "Number of max PIDs limit",
            &[],
            pid_max as f64,
        );
        Ok(())
    }
}

fn read_limit(path: &Path) -> Result<u64, CollectError> {
    let text = read::string(path).map_err(|e| CollectError::from_io(path, e))?;
    crate::sys::go::parse_go_u64(&text).ok_or_else(|| {
        anyhow::anyhow!("{}: not a number: {:?}", path.display(), text.trim()).into()
    })
}

/// A process or thread that ended between listing and reading is skipped, as upstream's
/// `isIgnoredError` does (ENOENT, ESRCH).
fn vanished(e: &io::Error) -> bool {
    read::is_missing(e) || e.raw_os_error() == Some(libc::ESRCH)
}

/// The numeric entries of a `/proc`-like directory (pids, or tids under `task/`).
fn numeric_entries(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(id) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

fn count(proc: &Path) -> Result<Counts, CollectError> {
    let mut c = Counts::default();
    for pid in numeric_entries(proc).map_err(|e| CollectError::from_io(proc, e))? {
        let dir = proc.join(pid.to_string());
        let stat = match read_stat(&dir.join("stat")) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(anyhow::anyhow!("error reading stat for pid {pid}: {e}").into())
            }
            Err(e) if vanished(&e) => continue,
            Err(e) => return Err(anyhow::anyhow!("error reading stat for pid {pid}: {e}").into()),
        };
        c.pids += 1;
        *c.states.entry(stat.state.clone()).or_default() += 1;
        c.threads += stat.num_threads;
        count_threads(&dir, pid, &stat, &mut c.thread_states)?;
    }
    Ok(c)
}

/// Adds the states of `pid`'s threads; the main thread counts with the process' own state.
fn count_threads(
    dir: &Path,
    pid: u64,
    stat: &ProcStat,
    states: &mut BTreeMap<String, u64>,
) -> CollectResult {
    let task = dir.join("task");
    let tids = match numeric_entries(&task) {
        Ok(t) => t,
        Err(e) if vanished(&e) => return Ok(()),
        Err(e) => {
            return Err(anyhow::anyhow!("unable to list all threads for pid: {pid} {e}").into())
        }
    };
    for tid in tids {
        if tid == pid {
            *states.entry(stat.state.clone()).or_default() += 1;
            continue;
        }
        match read_stat(&task.join(tid.to_string()).join("stat")) {
            Ok(t) => *states.entry(t.state).or_default() += 1,
            Err(e) if e.kind() != io::ErrorKind::InvalidData && vanished(&e) => continue,
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "error reading stat for pid:{pid} thread:{tid} err:{e}"
                )
                .into())
            }
        }
    }
    Ok(())
}

/// The two fields of `/proc/<pid>/stat` this collector needs.
#[derive(Debug, PartialEq)]
pub struct ProcStat {
    pub state: String,
    pub num_threads: u64,
}

fn read_stat(path: &Path) -> io::Result<ProcStat> {
    let text = read::string(path)?;
    parse_proc_stat(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected format in {}", path.display()),
        )
    })
}

/// `pid (comm) state ppid ... num_threads ...`: the command may hold spaces and parentheses, so
/// the fields start after the *last* `)`. The state is field 3, the thread count field 20.
pub fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    text.find('(')?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.to_string();
    // ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime
    // cstime priority nice: 16 fields, then num_threads.
    let num_threads = fields.nth(16)?.parse::<i64>().ok()?;
    Some(ProcStat {
        state,
        num_threads: num_threads.max(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // As on Linux 6.18: a command with a space and a parenthesis in it.
    const STAT: &str = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 1047 0 0 0 3 1 0 0 20 0 3 0 \
        1799 11001856 2354 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn parses_stat() {
        assert_eq!(
            parse_proc_stat(STAT),
            Some(ProcStat {
                state: "S".into(),
                num_threads: 3
            })
        );
        // Truncated after the state: no thread count.
        assert_eq!(parse_proc_stat("1 (init) S 0 1"), None);
        assert_eq!(parse_proc_stat("garbage"), None);
        assert_eq!(parse_proc_stat(""), None);
    }

    #[test]
    fn counts_processes_and_threads() {
        let dir = tempfile::tempdir().unwrap();
        let thread =
            |state: &str| format!("9 (t) {state} 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 1\n");
        write_files(
            dir.path(),
            &[
                (
                    "1/stat",
                    "1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1\n",
                ),
                ("1/task/1/stat", "ignored: the process' own state counts"),
                ("1234/stat", STAT),
                ("1234/task/1234/stat", STAT),
                ("1234/task/1235/stat", &thread("R")),
                ("1234/task/1236/stat", &thread("D")),
                // Gone between listing and reading: no stat file.
                ("999/task/999/.keep", ""),
                ("self/stat", "not a pid"),
                ("sys/kernel/threads-max", "63704\n"),
                ("sys/kernel/pid_max", "4194304\n"),
            ],
        );
        let text = render(&*build(&proc_at(dir.path()), &Args {}).unwrap()).unwrap();
        assert_eq!(
            text,
            "# HELP node_processes_max_processes Number of max PIDs limit\n\
# TYPE node_processes_max_processes gauge\nnode_processes_max_processes 4.194304e+06\n\
# HELP node_processes_max_threads Limit of threads in the system\n\
# TYPE node_processes_max_threads gauge\nnode_processes_max_threads 63704\n\
# HELP node_processes_pids Number of PIDs\n# TYPE node_processes_pids gauge\nnode_processes_pids 2\n\
# HELP node_processes_state Number of processes in each state.\n# TYPE node_processes_state gauge\n\
node_processes_state{state=\"S\"} 2\n\
# HELP node_processes_threads Allocated threads in system\n# TYPE node_processes_threads gauge\n\
node_processes_threads 4\n\
# HELP node_processes_threads_state Number of threads in each state.\n\
# TYPE node_processes_threads_state gauge\n\
node_processes_threads_state{thread_state=\"D\"} 1\n\
node_processes_threads_state{thread_state=\"R\"} 1\n\
node_processes_threads_state{thread_state=\"S\"} 2\n"
        );
    }

    #[test]
    fn missing_limit_fails() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &[("sys/kernel/pid_max", "32768\n")]);
        let e = render(&*build(&proc_at(dir.path()), &Args {}).unwrap()).unwrap_err();
        assert!(e.to_string().contains("threads"), "{e}");
    }
}
