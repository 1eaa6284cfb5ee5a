//! A bearer token or session cookie from any client: its JWT claims (`sid`, `exp`) are read
//! without a signature check, so every byte of them is the attacker's.
#![no_main]
use std::sync::OnceLock;

use gateway_sidecar::fuzzing::Keyer;
use libfuzzer_sys::fuzz_target;

fn keyer() -> &'static Keyer {
    static KEYER: OnceLock<Keyer> = OnceLock::new();
    KEYER.get_or_init(|| Keyer::random().expect("randomness"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = keyer().credential(text, None);
    }
});
