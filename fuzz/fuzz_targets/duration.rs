//! Duration flags and settings (`5s`, `1h30m`, `2d`), Go's spelling plus Prometheus' units.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = exporter_core::cli::parse_duration(text);
    }
});
