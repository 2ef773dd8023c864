//! Server WebSocket frame headers (`transport::frame::parse_server_header`)
//! over a stream of frames, and the payloads of close frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questdb_arrow::transport::frame::{
    MAX_SERVER_HEADER_LEN, OP_CLOSE, parse_close_payload, parse_server_header,
};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while !rest.is_empty() {
        let h = match parse_server_header(rest) {
            Ok(Some(h)) => h,
            // Too short: every shorter prefix is too short as well.
            Ok(None) => {
                assert!(rest.len() < MAX_SERVER_HEADER_LEN);
                return;
            }
            Err(e) => {
                // Judged on the header alone.
                let _ = e.to_string();
                let head = &rest[..rest.len().min(MAX_SERVER_HEADER_LEN)];
                assert_eq!(parse_server_header(head), Err(e));
                return;
            }
        };
        assert!(matches!(h.header_len, 2 | 4 | 10) && h.header_len <= rest.len());
        assert!(h.payload_len < 1 << 63);
        if h.is_control() {
            assert!(h.fin && h.payload_len <= 125);
        }
        // The header re-encodes to the same bytes in the same length form.
        let mut again = vec![rest[0], rest[1]];
        match h.header_len {
            4 => again.extend_from_slice(&(h.payload_len as u16).to_be_bytes()),
            10 => again.extend_from_slice(&h.payload_len.to_be_bytes()),
            _ => assert_eq!(u64::from(rest[1] & 0x7F), h.payload_len),
        }
        assert_eq!(&again[..], &rest[..h.header_len]);
        // Every shorter prefix is incomplete, never an error.
        for cut in 0..h.header_len {
            assert_eq!(parse_server_header(&rest[..cut]), Ok(None));
        }
        let body = &rest[h.header_len..];
        let take = body.len().min(h.payload_len as usize);
        if h.opcode == OP_CLOSE && take == h.payload_len as usize {
            if let Ok(Some((_, reason))) = parse_close_payload(&body[..take]) {
                assert_eq!(reason.len() + 2, take);
            }
        }
        rest = &body[take..];
    }
});
