//! A single column body for every column type and layout.
//! Byte 0: type (`ColumnType::ALL[b % 23]`); byte 1: row count;
//! byte 2: bit 0 gorilla, bit 1 delta_dict, bit 2 egress; rest: the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questdb_arrow::protocol::column::{Layout, decode_column};
use questdb_arrow::protocol::{ColumnType, Direction, Reader, TsEncoding};

fuzz_target!(|data: &[u8]| {
    let [t, rows, bits, rest @ ..] = data else {
        return;
    };
    let ty = ColumnType::ALL[usize::from(*t) % ColumnType::ALL.len()];
    let layout = Layout {
        gorilla: bits & 1 != 0,
        delta_dict: bits & 2 != 0,
        direction: if bits & 4 != 0 {
            Direction::Egress
        } else {
            Direction::Ingress
        },
        ts_encoding: TsEncoding::Auto,
    };
    if let Ok(col) = decode_column(&mut Reader::new(rest), ty, usize::from(*rows), &layout) {
        let _ = col.to_owned_data();
    }
});
