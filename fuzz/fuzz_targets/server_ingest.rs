//! The embedded server's ingest connection handler, fed arbitrary frames
//! (the input split on the 4-byte marker `\xFF\xFEQW`): it must answer each
//! frame with OK or an error status, never panic, and keep its storage
//! consistent.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use questdb_arrow::server::IngestHarness;

fn harness() -> &'static IngestHarness {
    static H: OnceLock<IngestHarness> = OnceLock::new();
    H.get_or_init(|| IngestHarness::new(false).expect("harness"))
}

#[path = "split.rs"]
mod split;
use split::split;

fuzz_target!(|data: &[u8]| {
    let frames = split(data);
    let responses = harness().feed(frames.iter().copied());
    assert_eq!(responses.len(), frames.len(), "one response per frame");
});
