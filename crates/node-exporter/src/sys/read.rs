//! Reading `/proc` and `/sys` files. The kernel produces many of these files on every read, so
//! callers read each file once per scrape and parse from memory.
//!
//! Two families: plain reads (`string`, `trimmed`, `u64_value`, directory listings), and sysfs
//! attributes read as prometheus/procfs does (`sys_read_file`: one `read(2)`, with open and read
//! failures told apart; `parse_sysfs_*`: its `ValueParser`), for the `/sys/class/*` collectors.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use super::go::to_valid_utf8;

/// The whole file as a string.
pub fn string(path: &Path) -> io::Result<String> {
    fs::read_to_string(path)
}

/// The file's content without surrounding whitespace (sysfs values end in a newline).
pub fn trimmed(path: &Path) -> io::Result<String> {
    let mut s = fs::read_to_string(path)?;
    let end = s.trim_end().len();
    s.truncate(end);
    let start = s.len() - s.trim_start().len();
    Ok(s.split_off(start))
}

/// A sysfs file holding one unsigned integer.
pub fn u64_value(path: &Path) -> io::Result<u64> {
    value(path)
}

/// A file holding one value that `T::from_str` parses; a bad one is `InvalidData` naming the file.
fn value<T: std::str::FromStr>(path: &Path) -> io::Result<T>
where
    T::Err: std::fmt::Display,
{
    let s = trimmed(path)?;
    s.parse::<T>().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// The names in a directory, sorted, so output and golden files are stable.
pub fn dir_names(path: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(path)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// What follows `prefix` in `name` when the glob `<prefix>[0-9]*` matches it (`cpu12` with
/// `cpu` gives `12`; `cpufreq` does not match). Upstream finds class devices with such globs.
pub fn glob_numbered<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    name.strip_prefix(prefix)
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// The entries of `dir` that the glob `<prefix>[0-9]*` matches, sorted; none when `dir` cannot
/// be listed, as a glob that matches nothing is no error.
pub fn numbered_entries(dir: &Path, prefix: &str) -> Vec<String> {
    dir_names(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|name| glob_numbered(name, prefix).is_some())
        .collect()
}

/// Whether an error means "this kernel or host has no such file", which collectors treat as
/// "nothing to report" rather than a failure.
pub fn is_missing(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound) || e.raw_os_error() == Some(libc::ENOTDIR)
}

// ---- sysfs attributes, as prometheus/procfs reads them ----

/// Why a sysfs attribute could not be read: opening it failed (missing, permission) or the
/// driver's `show` callback returned an error on read (EAGAIN, ENODATA, EIO, EOPNOTSUPP, ...).
/// procfs' callers treat the two differently, so the distinction is kept.
#[derive(Debug)]
pub enum SysReadError {
    Open(io::Error),
    Read(io::Error),
}

impl SysReadError {
    pub fn io(&self) -> &io::Error {
        match self {
            SysReadError::Open(e) | SysReadError::Read(e) => e,
        }
    }

    pub fn is_not_found(&self) -> bool {
        is_missing(self.io())
    }

    pub fn is_permission(&self) -> bool {
        self.io().kind() == io::ErrorKind::PermissionDenied
    }

    pub fn errno(&self) -> Option<i32> {
        self.io().raw_os_error()
    }

    pub fn into_io(self) -> io::Error {
        match self {
            SysReadError::Open(e) | SysReadError::Read(e) => e,
        }
    }
}

impl std::fmt::Display for SysReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io().fmt(f)
    }
}

impl std::error::Error for SysReadError {}

/// One `read(2)` of at most 128 bytes, as procfs' `SysReadFile` does: some hwmon drivers return
/// EAGAIN forever, and a read loop would spin on them.
pub fn sys_read_file(path: &Path) -> Result<Vec<u8>, SysReadError> {
    let mut f = fs::File::open(path).map_err(SysReadError::Open)?;
    let mut buf = [0u8; 128];
    let n = f.read(&mut buf).map_err(SysReadError::Read)?;
    Ok(buf[..n].to_vec())
}

/// [`sys_read_file`] with surrounding whitespace trimmed and invalid UTF-8 replaced (DMI and
/// battery strings come from firmware).
pub fn sys_read_string(path: &Path) -> Result<String, SysReadError> {
    let raw = sys_read_file(path)?;
    Ok(to_valid_utf8(raw.trim_ascii()))
}

/// procfs' error text for an attribute it could not read: `failed to read file "<path>": <err>`.
pub fn read_failed(path: &Path, e: impl std::fmt::Display) -> String {
    format!("failed to read file {:?}: {e}", path.display())
}

/// procfs' `ValueParser.PInt64`: decimal, or hexadecimal after a `0x` prefix.
pub fn parse_sysfs_i64(s: &str) -> Option<i64> {
    match s.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// procfs' `ValueParser.PUInt64`: decimal, or hexadecimal after a `0x` prefix; no sign.
pub fn parse_sysfs_u64(s: &str) -> Option<u64> {
    let (digits, radix) = match s.strip_prefix("0x") {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    if digits.starts_with('+') {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn globs_numbered_names() {
        assert_eq!(glob_numbered("cpu12", "cpu"), Some("12"));
        assert_eq!(glob_numbered("cpu0a", "cpu"), Some("0a"));
        assert_eq!(glob_numbered("cpufreq", "cpu"), None);
        assert_eq!(glob_numbered("cpu", "cpu"), None);
        assert_eq!(glob_numbered("xcpu1", "cpu"), None);
    }

    #[test]
    fn value_parser_like_procfs() {
        assert_eq!(parse_sysfs_i64("0x1f"), Some(31));
        assert_eq!(parse_sysfs_i64("-22"), Some(-22));
        assert_eq!(parse_sysfs_i64("x"), None);
        assert_eq!(parse_sysfs_u64("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_sysfs_u64("+1"), None);
    }
}
