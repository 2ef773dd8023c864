//! Egress server → client frames (`/read/v1`): the frame prefix, and for
//! RESULT_BATCH the body (zstd inflation, delta dictionary, schema,
//! columns), both as batch 0 and as a later batch with a fixed schema.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questdb_arrow::protocol::ColumnType;
use questdb_arrow::protocol::egress::{Inflater, ServerMessage, decode_server_message};
use questdb_arrow::protocol::ingress::ColumnDef;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = decode_server_message(data, 1) else {
        return;
    };
    let ServerMessage::Batch(raw) = msg else {
        return;
    };
    let schema = [
        ColumnDef {
            name: "a".into(),
            ty: ColumnType::Long,
        },
        ColumnDef {
            name: "b".into(),
            ty: ColumnType::Varchar,
        },
        ColumnDef {
            name: "c".into(),
            ty: ColumnType::Timestamp,
        },
    ];
    for s in [None, Some(&schema[..])] {
        let mut inflater = Inflater::new();
        if let Ok(batch) = raw.decode(&mut inflater, s) {
            for col in &batch.columns {
                let _ = col.to_owned_data();
            }
        }
    }
});
