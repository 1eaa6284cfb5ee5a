//! Every `/proc` and `/sys` text parser of node-exporter: the first byte picks the parser, the
//! rest is the file (a container or a broken driver can put anything there).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if let Ok(text) = std::str::from_utf8(rest) {
        node_exporter::fuzzing::proc_sys(which, text);
    }
});
