#![allow(clippy::unwrap_used)]
//! The floor of a scrape's CPU cost: open and read a list of files (and list the directories
//! among them), nothing else, `passes` times, and print the CPU time per pass.
//!
//! `bench/node_bench.py` feeds it the files one node_exporter scrape opens (from strace): no
//! exporter can read the same data for less, so "our CPU per scrape / floor" says how much of
//! our cost is parsing and formatting.
//!
//!     cargo run --release -p node-exporter --example read_floor -- PATHS_FILE [PASSES]
//!
//! PATHS_FILE has one absolute path per line. Prints one line of `key=value` pairs.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// User plus system CPU time of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we pass; an all-zero rusage is a valid value.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

enum Entry {
    File(PathBuf),
    Dir(PathBuf),
}

/// One pass: every file opened and read to the end, every directory listed. Returns the bytes
/// read and the number of paths that failed (some sysfs attributes refuse read(); node_exporter
/// opens and skips them too).
fn pass(entries: &[Entry], buf: &mut Vec<u8>) -> (usize, usize) {
    let (mut bytes, mut failed) = (0, 0);
    for e in entries {
        match e {
            Entry::File(p) => match File::open(p) {
                Ok(mut f) => {
                    buf.clear();
                    match f.read_to_end(buf) {
                        Ok(n) => bytes += n,
                        Err(_) => failed += 1,
                    }
                }
                Err(_) => failed += 1,
            },
            Entry::Dir(p) => match std::fs::read_dir(p) {
                Ok(rd) => bytes += rd.filter_map(Result::ok).count(),
                Err(_) => failed += 1,
            },
        }
    }
    (bytes, failed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(list) = args.first() else {
        eprintln!("usage: read_floor PATHS_FILE [PASSES]");
        return ExitCode::from(64);
    };
    let passes: u32 = match args.get(1).map(|s| s.parse()) {
        None => 1000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("read_floor: PASSES must be a positive integer");
            return ExitCode::from(64);
        }
    };
    let text = match std::fs::read_to_string(list) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("read_floor: {list}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Whether a path is a directory is settled once, outside the measured passes.
    let entries: Vec<Entry> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let p = PathBuf::from(l);
            if p.is_dir() {
                Entry::Dir(p)
            } else {
                Entry::File(p)
            }
        })
        .collect();
    let dirs = entries
        .iter()
        .filter(|e| matches!(e, Entry::Dir(_)))
        .count();
    let mut buf = Vec::with_capacity(1 << 16);

    let (bytes, failed) = pass(&entries, &mut buf); // warm the dentry and page caches
    let cpu0 = cpu_time();
    let wall0 = Instant::now();
    for _ in 0..passes {
        pass(&entries, &mut buf);
    }
    let cpu = cpu_time().saturating_sub(cpu0);
    let wall = wall0.elapsed();
    println!(
        "paths={} dirs={dirs} failed={failed} passes={passes} bytes_per_pass={bytes} \
         cpu_ms_per_pass={:.4} wall_ms_per_pass={:.4}",
        entries.len(),
        cpu.as_secs_f64() * 1000.0 / f64::from(passes),
        wall.as_secs_f64() * 1000.0 / f64::from(passes),
    );
    ExitCode::SUCCESS
}
