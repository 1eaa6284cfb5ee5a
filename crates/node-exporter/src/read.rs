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
    value(path)
}

/// A sysfs file holding one signed integer.
pub fn i64_value(path: &Path) -> io::Result<i64> {
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
}
