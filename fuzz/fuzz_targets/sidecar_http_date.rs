//! HTTP dates (cookie `Expires`), in the three RFC 9110 forms and the Netscape one.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gateway_sidecar::fuzzing::parse_http_date(text);
    }
});
