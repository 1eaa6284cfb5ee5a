//! `Authorization: Basic ...` from any client, before authentication.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((user, pass)) = exporter_core::fuzzing::basic_auth_header(data) {
        // Whatever is read must be part of what was sent (base64 shrinks it).
        assert!(user.len() + pass.len() <= data.len());
    }
});
