//! rtnetlink replies: message framing, link attributes (`netdev`, `netclass`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    node_exporter::fuzzing::netlink(data);
});
