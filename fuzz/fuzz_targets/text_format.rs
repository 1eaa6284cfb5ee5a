//! The Prometheus text format parser: textfile collector files and the sidecar's app metrics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = exporter_core::text::parser::parse_text(data);
});
