//! Ingress server responses (OK / durable ack / error), with a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questdb_arrow::protocol::ingress::Response;

fuzz_target!(|data: &[u8]| {
    let Ok(resp) = Response::decode(data) else {
        return;
    };
    let bytes = resp.to_bytes();
    let again = Response::decode(&bytes)
        .unwrap_or_else(|e| panic!("re-encoded response does not decode: {e}"));
    assert_eq!(resp, again, "response changed across an encode/decode round trip");
});
