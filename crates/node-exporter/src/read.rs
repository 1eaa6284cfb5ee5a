//! Small helpers to read `/proc` and `/sys` files. The kernel produces many of these files on
//! every read, so callers read each file once per scrape and parse from memory.

use std::fs;
use std::io;
use std::path::Path;

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
    let s = trimmed(path)?;
    s.parse::<u64>().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// A sysfs file holding one signed integer.
pub fn i64_value(path: &Path) -> io::Result<i64> {
    let s = trimmed(path)?;
    s.parse::<i64>().map_err(|e| {
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

/// Whether an error means "this kernel or host has no such file", which collectors treat as
/// "nothing to report" rather than a failure.
pub fn is_missing(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound) || e.raw_os_error() == Some(libc::ENOTDIR)
}
