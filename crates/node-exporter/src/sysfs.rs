//! Reading and parsing sysfs attributes as prometheus/procfs does (`util.SysReadFile`,
//! `util.ValueParser`), for the collectors of `/sys/class/*` devices.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use crate::go::to_valid_utf8;

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
        crate::read::is_missing(self.io())
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
    fn value_parser_like_procfs() {
        assert_eq!(parse_sysfs_i64("0x1f"), Some(31));
        assert_eq!(parse_sysfs_i64("-22"), Some(-22));
        assert_eq!(parse_sysfs_i64("x"), None);
        assert_eq!(parse_sysfs_u64("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_sysfs_u64("+1"), None);
    }
}
