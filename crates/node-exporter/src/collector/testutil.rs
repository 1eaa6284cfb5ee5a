//! Helpers for the collectors' unit tests: fake `/proc` and `/sys` trees in a temporary
//! directory, [`Paths`] pointing there, and running a collector's `update` to get its output as
//! text.

use std::fs;
use std::path::Path;

use exporter_core::Exposition;

use super::{CollectError, Collector, Paths};

/// Writes `content` to `path`, creating the directories above it.
pub(crate) fn write_file(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create test directory");
    }
    fs::write(path, content).expect("write test file");
}

/// Creates `dir` and writes each `(name, content)` into it (`name` may hold subdirectories).
pub(crate) fn write_files(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).expect("create test directory");
    for (name, content) in files {
        write_file(&dir.join(name), content);
    }
}

/// Every root inside `root`: `proc/`, `sys/`, `udev/`, and `root` itself as the root filesystem.
pub(crate) fn paths_in(root: &Path) -> Paths {
    Paths {
        procfs: root.join("proc"),
        sysfs: root.join("sys"),
        rootfs: root.to_path_buf(),
        udev_data: root.join("udev"),
    }
}

/// The proc root at `dir`, the other roots as on a real host.
pub(crate) fn proc_at(dir: &Path) -> Paths {
    Paths {
        procfs: dir.to_path_buf(),
        ..Paths::default()
    }
}

/// The sys root at `dir`, the other roots as on a real host.
pub(crate) fn sys_at(dir: &Path) -> Paths {
    Paths {
        sysfs: dir.to_path_buf(),
        ..Paths::default()
    }
}

/// The text format of what `out` holds.
pub(crate) fn text(out: Exposition) -> String {
    String::from_utf8(out.to_bytes()).expect("exposition is UTF-8")
}

/// Runs one `update` of `c` and returns what it wrote, as text.
pub(crate) fn render(c: &dyn Collector) -> Result<String, CollectError> {
    let mut out = Exposition::new();
    c.update(&mut out)?;
    Ok(text(out))
}
