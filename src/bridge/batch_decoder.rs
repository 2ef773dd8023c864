//! Sans-IO decoding of `/read/v1` server frames into Arrow record
//! batches: [`BatchDecoder`] keeps the connection's symbol dictionary,
//! the zstd state and the current query's schema; the query cursor
//! ([`crate::client::Cursor`]) runs one on its receiving thread, and it
//! works on recorded frames too (benches, fuzzing).

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Schema, SchemaRef};
use rayon::prelude::*;

use super::decode::decode_array;
use super::types::{QwpType, arrow_field};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::egress::{
    Inflater, RESET_MASK_DICT, RawBatch, ServerControl, ServerMessage, decode_server_message,
};
use crate::protocol::ingress::ColumnDef;

/// Frames at least this large have their columns decoded in parallel.
pub const PARALLEL_DECODE_MIN_BYTES: usize = 256 * 1024;

/// Sans-IO decoding of `/read/v1` server frames into Arrow: the connection
/// symbol dictionary (CACHE_RESET honoured), the zstd state with its reused
/// buffer and the current query's schema. What [`Cursor`](crate::client::Cursor) runs on its
/// receiving thread; usable on recorded frames too.
pub struct BatchDecoder {
    version: u8,
    dict: Vec<String>,
    inflater: Inflater,
    defs: Option<Vec<ColumnDef>>,
    schema: Option<SchemaRef>,
}

impl fmt::Debug for BatchDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchDecoder")
            .field("version", &self.version)
            .field("dict_len", &self.dict.len())
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// One decoded server frame.
#[derive(Debug)]
pub enum Decoded {
    /// A RESULT_BATCH as Arrow.
    Batch {
        /// The request it answers.
        request_id: i64,
        /// The rows.
        batch: RecordBatch,
    },
    /// Any other message (RESULT_END, EXEC_DONE, QUERY_ERROR, ...);
    /// CACHE_RESET is applied before it is returned.
    Control(ServerControl),
}

impl BatchDecoder {
    /// A decoder for a connection that negotiated QWP `version`.
    pub fn new(version: u8) -> BatchDecoder {
        BatchDecoder {
            version,
            dict: Vec::new(),
            inflater: Inflater::new(),
            defs: None,
            schema: None,
        }
    }

    /// Forgets the current query's schema (call before the next query; the
    /// symbol dictionary is connection state and stays).
    pub fn start_query(&mut self) {
        self.defs = None;
        self.schema = None;
    }

    /// Decodes one server frame. Batches of other requests than the
    /// current one must not be fed (their schema differs); see
    /// [`Self::decode_for`].
    pub fn decode(&mut self, frame: &[u8]) -> Result<Decoded> {
        self.decode_for(frame, None)
            .map(|d| d.expect("no request filter, nothing skipped"))
    }

    /// Like [`Self::decode`], but a RESULT_BATCH of another request than
    /// `request_id` (a stale one) is skipped without decoding its body:
    /// `Ok(None)`.
    pub fn decode_for(&mut self, frame: &[u8], request_id: Option<i64>) -> Result<Option<Decoded>> {
        Ok(Some(match decode_server_message(frame, self.version)? {
            ServerMessage::Batch(raw) if request_id.is_some_and(|id| id != raw.request_id) => {
                return Ok(None);
            }
            ServerMessage::Batch(raw) => {
                let request_id = raw.request_id;
                let batch = decode_batch(self, raw, frame.len())?;
                Decoded::Batch { request_id, batch }
            }
            ServerMessage::Control(c) => {
                if let ServerControl::CacheReset { mask } = &c
                    && mask & RESET_MASK_DICT != 0
                {
                    self.dict.clear();
                }
                Decoded::Control(c)
            }
        }))
    }
}

/// One RESULT_BATCH into an Arrow batch: dictionary delta applied, the
/// schema taken from batch 0, columns decoded (in parallel when large).
fn decode_batch(s: &mut BatchDecoder, raw: RawBatch<'_>, frame_len: usize) -> Result<RecordBatch> {
    let defs = &mut s.defs;
    let schema = &mut s.schema;
    let v = raw.decode(&mut s.inflater, defs.as_deref())?;
    if let Some(d) = &v.delta {
        if d.start as usize != s.dict.len() {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "symbol delta starts at {} but {} entries are known",
                    d.start,
                    s.dict.len()
                ),
            ));
        }
        s.dict.extend(d.entries.iter().map(|e| e.to_string()));
    }
    if let Some(sc) = &v.schema {
        *defs = Some(
            sc.iter()
                .map(|(n, t)| ColumnDef {
                    name: n.to_string(),
                    ty: *t,
                })
                .collect(),
        );
    }
    let defs = defs
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::Protocol, "result batch before its schema"))?;
    let dict = &s.dict;
    let one = |(def, c): (&ColumnDef, &crate::protocol::column::ColumnView<'_>)| {
        decode_array(c, dict).map_err(|e| e.context(format!("column {:?}", def.name)))
    };
    let cols: Vec<Result<(QwpType, ArrayRef)>> =
        if frame_len >= PARALLEL_DECODE_MIN_BYTES && v.columns.len() > 1 {
            defs.par_iter().zip(v.columns.par_iter()).map(one).collect()
        } else {
            defs.iter().zip(&v.columns).map(one).collect()
        };
    let mut fields = Vec::with_capacity(cols.len());
    let mut arrays = Vec::with_capacity(cols.len());
    for (def, c) in defs.iter().zip(cols) {
        let (t, a) = c?;
        fields.push(arrow_field(&def.name, t, false));
        arrays.push(a);
    }
    let sc = schema
        .get_or_insert_with(|| Arc::new(Schema::new(fields)))
        .clone();
    RecordBatch::try_new(sc, arrays)
        .map_err(|e| Error::arrow(ErrorKind::Protocol, "assembling the result batch", e))
}
