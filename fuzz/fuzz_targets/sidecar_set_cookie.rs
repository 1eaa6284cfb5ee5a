//! `Set-Cookie` headers of the app's responses, as the sidecar reads them for sessions.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let cookies = ["sid".to_string(), "session".to_string()];
        let _ = gateway_sidecar::fuzzing::set_cookie(text, &cookies, 1_700_000_000);
    }
});
