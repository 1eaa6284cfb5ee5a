//! Glob patterns (`--collector.textfile.directory`): the pattern, a NUL, then a name.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, name) = text.split_once('\0').unwrap_or((text, "name"));
    node_exporter::fuzzing::glob(pattern, name);
});
