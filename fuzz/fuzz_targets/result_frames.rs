//! The client's result decoder (`client::BatchDecoder`, what a `Cursor`
//! runs): a sequence of arbitrary server frames — dictionary deltas,
//! schemas, CACHE_RESET, zstd bodies — decoded into Arrow batches. It must
//! return errors, never panic, whatever the bytes and their order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questdb_arrow::client::BatchDecoder;

fuzz_target!(|data: &[u8]| {
    let mut d = BatchDecoder::new(1);
    // Frames are length-prefixed (u16 LE) so one input is a sequence.
    let mut rest = data;
    while rest.len() >= 2 {
        let n = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        let frame = &rest[2..(2 + n).min(rest.len())];
        rest = &rest[(2 + n).min(rest.len())..];
        if d.decode(frame).is_err() {
            d.start_query();
        }
    }
});
