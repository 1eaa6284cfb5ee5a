//! `--web.config.file`: YAML from whoever can write the file, checked field by field.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = exporter_core::fuzzing::web_config_yaml(text);
    }
});
