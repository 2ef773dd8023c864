//! Ingress data message decoder (`/write/v4` frames), plus a
//! decode → owned → encode → decode round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questdb_arrow::protocol::ingress::decode_message;

fuzz_target!(|data: &[u8]| {
    let Ok(view) = decode_message(data, 1) else {
        return;
    };
    let owned = view.to_owned_message();
    // Re-encoding may legitimately fail validation (e.g. symbol ids the
    // encoder rejects); only a successful encoding must round-trip.
    let Ok(bytes) = owned.to_bytes() else {
        return;
    };
    let again = decode_message(&bytes, 1)
        .unwrap_or_else(|e| panic!("re-encoded ingress message does not decode: {e}"))
        .to_owned_message();
    // Debug compare: floats may be NaN, which `==` would reject.
    assert_eq!(
        format!("{owned:?}"),
        format!("{again:?}"),
        "ingress message changed across an encode/decode round trip"
    );
});
