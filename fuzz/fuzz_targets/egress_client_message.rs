//! Egress client → server messages (QUERY_REQUEST with binds, CANCEL,
//! CREDIT), with a round trip. Byte 0 bit 0 = `query_flags_cap`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questdb_arrow::protocol::egress::ClientMessage;

fuzz_target!(|data: &[u8]| {
    let Some((&first, payload)) = data.split_first() else {
        return;
    };
    let cap = first & 1 != 0;
    let Ok(msg) = ClientMessage::decode(payload, cap) else {
        return;
    };
    let bytes = msg.to_bytes();
    let again = ClientMessage::decode(&bytes, cap)
        .unwrap_or_else(|e| panic!("re-encoded client message does not decode: {e}"));
    // Debug compare: DOUBLE binds may be NaN.
    assert_eq!(
        format!("{msg:?}"),
        format!("{again:?}"),
        "client message changed across an encode/decode round trip"
    );
});
