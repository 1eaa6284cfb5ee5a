//! A consumer group member's assignment bytes, as any client of the group may write them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parts = kafka_exporter::groups::parse_assignment(data);
    // Every partition read took four bytes of the input.
    assert!(parts.len() * 4 <= data.len());
});
