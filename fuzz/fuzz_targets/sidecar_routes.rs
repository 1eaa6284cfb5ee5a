//! The sidecar's route rules file, then a request path (after a NUL) matched against it.
#![no_main]
use gateway_sidecar::fuzzing::{normalize, RoutesConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (rules, path) = text.split_once('\0').unwrap_or((text, "/api/users/42"));
    let _ = normalize(path);
    if let Ok(config) = RoutesConfig::parse(rules, None) {
        for method in 0..4 {
            let _ = config.find(method, path);
        }
    }
});
