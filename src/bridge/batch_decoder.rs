//! Sans-IO decoding of `/read/v1` server frames into Arrow record
//! batches: [`BatchDecoder`] keeps the connection's symbol dictionary,
//! the zstd state and the current query's schema; the query cursor
//! ([`crate::client::Cursor`]) runs one on its receiving thread, and it
//! works on recorded frames too (benches, fuzzing).

use std::fmt;
use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Schema, SchemaRef};
use rayon::prelude::*;

use super::decode::{SharedSymbols, decode_array_owned};
use super::symbol_values::SymbolValues;
use super::types::{QwpType, arrow_field};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::ColumnView;
use crate::protocol::egress::{
    Inflater, RESET_MASK_DICT, RawBatch, ServerControl, ServerMessage, decode_server_message,
};
use crate::protocol::ingress::ColumnDef;

/// Frames at least this large have their columns decoded in parallel
/// (see [`BatchDecoder::set_parallel`]).
pub const PARALLEL_DECODE_MIN_BYTES: usize = 256 * 1024;

/// Large frames are decoded in parallel by default only on machines with
/// at least this many cores: on fewer, waking rayon's workers costs more
/// CPU than it saves (the receiving thread, the caller and often the
/// server share the cores). Measured on 2 cores (2 M rows of recorded
/// frames, decoding only): parallel took 15 CPU ns per row on numeric
/// results against 10 on the calling thread alone, and its paired
/// speed-up over questdb-rs was lower (1.12/0.94x against 1.17/1.14x;
/// mixed results 1.21/1.23x against 1.44/1.36x).
pub const PARALLEL_DECODE_MIN_CORES: usize = 4;

/// Sans-IO decoding of `/read/v1` server frames into Arrow: the connection
/// symbol dictionary (CACHE_RESET honoured), the zstd state with its reused
/// buffer and the current query's schema. What [`Cursor`](crate::client::Cursor) runs on its
/// receiving thread; usable on recorded frames too.
pub struct BatchDecoder {
    version: u8,
    dict: SymbolValues,
    inflater: Inflater,
    defs: Option<Vec<ColumnDef>>,
    schema: Option<SchemaRef>,
    /// Whether large frames have their columns decoded in parallel.
    parallel: bool,
}

impl fmt::Debug for BatchDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchDecoder")
            .field("version", &self.version)
            .field("dict_len", &self.dict.len())
            .field("schema", &self.schema)
            .field("parallel", &self.parallel)
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

/// Whether this machine has [`PARALLEL_DECODE_MIN_CORES`] cores, found
/// once per process: `available_parallelism` reads the cgroup files on
/// Linux, too much I/O for every decoder (one per query connection).
fn parallel_by_default() -> bool {
    static PARALLEL: OnceLock<bool> = OnceLock::new();
    *PARALLEL.get_or_init(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get()) >= PARALLEL_DECODE_MIN_CORES
    })
}

impl BatchDecoder {
    /// A decoder for a connection that negotiated QWP `version`.
    pub fn new(version: u8) -> BatchDecoder {
        BatchDecoder {
            version,
            dict: SymbolValues::new(),
            inflater: Inflater::new(),
            defs: None,
            schema: None,
            parallel: parallel_by_default(),
        }
    }

    /// Whether frames of at least [`PARALLEL_DECODE_MIN_BYTES`] have their
    /// columns decoded in parallel (on rayon's global pool). Off, every
    /// frame is decoded on the calling thread: better where the other
    /// cores are busy anyway. The default: on with at least
    /// [`PARALLEL_DECODE_MIN_CORES`] cores (with fewer, the query cursor's
    /// receiving thread and the caller already keep them busy).
    pub fn set_parallel(&mut self, on: bool) {
        self.parallel = on;
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
        // Without a request filter nothing is skipped.
        self.decode_for(frame, None)?
            .ok_or_else(|| Error::new(ErrorKind::Internal, "result frame skipped without a filter"))
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
        for e in &d.entries {
            s.dict.push(e)?;
        }
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
    // Every SYMBOL column of the batch shares the connection's values
    // array; its keys are the wire ids.
    let values = s.dict.values()?;
    let symbols = SharedSymbols {
        dict: &s.dict,
        values,
    };
    let one = |(def, c): (&ColumnDef, ColumnView<'_>)| {
        decode_array_owned(c, &symbols).map_err(|e| e.context(format!("column {:?}", def.name)))
    };
    let parallel = s.parallel && frame_len >= PARALLEL_DECODE_MIN_BYTES && v.columns.len() > 1;
    let cols: Vec<Result<(QwpType, ArrayRef)>> = if parallel {
        defs.par_iter()
            .zip(v.columns.into_par_iter())
            .map(one)
            .collect()
    } else {
        defs.iter().zip(v.columns).map(one).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray, DictionaryArray};
    use arrow::datatypes::Int32Type;

    use crate::protocol::ColumnType;
    use crate::protocol::column::{ColumnData, Values};
    use crate::protocol::egress::ResultBatch;
    use crate::protocol::ingress::SymbolDelta;

    /// A RESULT_BATCH frame of SYMBOL columns `s0, s1, ...` (a `None` id is
    /// NULL) with the dictionary delta `start`, `entries`.
    fn frame(seq: u64, start: u64, entries: &[&str], cols: &[Vec<Option<u32>>]) -> Vec<u8> {
        let rows = cols.first().map_or(0, Vec::len);
        ResultBatch {
            request_id: 7,
            batch_seq: seq,
            delta: Some(SymbolDelta {
                start,
                entries: entries.iter().map(|e| e.to_string()).collect(),
            }),
            schema: (0..cols.len())
                .map(|i| ColumnDef {
                    name: format!("s{i}"),
                    ty: ColumnType::Symbol,
                })
                .collect(),
            columns: cols
                .iter()
                .map(|c| {
                    let ids = c.iter().flatten().copied().collect();
                    ColumnData::with_nulls(
                        Values::Symbol(ids),
                        c.iter().map(Option::is_none).collect(),
                    )
                })
                .collect(),
            row_count: rows,
        }
        .to_frame(None)
        .unwrap()
    }

    fn batch(d: &mut BatchDecoder, f: &[u8]) -> RecordBatch {
        match d.decode(f).unwrap() {
            Decoded::Batch { batch, .. } => batch,
            other => panic!("{other:?}"),
        }
    }

    fn dict(b: &RecordBatch, col: usize) -> &DictionaryArray<Int32Type> {
        b.column(col).as_dictionary::<Int32Type>()
    }

    fn strings(b: &RecordBatch, col: usize) -> Vec<Option<String>> {
        let d = dict(b, col);
        let s = d.downcast_dict::<arrow::array::StringArray>().unwrap();
        s.into_iter().map(|v| v.map(str::to_string)).collect()
    }

    fn owned(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn symbol_values_are_shared_across_columns_and_batches() {
        let mut d = BatchDecoder::new(1);
        let b0 = batch(
            &mut d,
            &frame(
                0,
                0,
                &["a", "b"],
                &[vec![Some(0), Some(1), None, Some(0)], vec![Some(1); 4]],
            ),
        );
        // Both columns use the one values array; keys are the wire ids.
        assert!(Arc::ptr_eq(dict(&b0, 0).values(), dict(&b0, 1).values()));
        assert_eq!(dict(&b0, 0).keys().values().to_vec(), [0, 1, 0, 0]);
        assert!(dict(&b0, 0).is_null(2));
        // Entries appended: the new batch sees them, the old one is unchanged.
        let b1 = batch(
            &mut d,
            &frame(
                1,
                2,
                &["c", "dé"],
                &[vec![Some(3), None], vec![Some(2), Some(0)]],
            ),
        );
        // No new entries: the same values array again, not a copy.
        let b2 = batch(&mut d, &frame(2, 4, &[], &[vec![Some(1)], vec![None]]));
        assert!(Arc::ptr_eq(dict(&b1, 0).values(), dict(&b2, 1).values()));
        assert_eq!(dict(&b0, 0).values().len(), 2);
        assert_eq!(dict(&b1, 0).values().len(), 4);
        assert_eq!(
            strings(&b0, 0),
            owned(&[Some("a"), Some("b"), None, Some("a")])
        );
        assert_eq!(strings(&b0, 1), owned(&[Some("b"); 4]));
        assert_eq!(strings(&b1, 0), owned(&[Some("dé"), None]));
        assert_eq!(strings(&b1, 1), owned(&[Some("c"), Some("a")]));
        assert_eq!(strings(&b2, 0), owned(&[Some("b")]));
        assert_eq!(strings(&b2, 1), owned(&[None]));
        for b in [&b0, &b1, &b2] {
            b.column(0).to_data().validate_full().unwrap();
        }
        // Slices keep the shared values and resolve the right rows.
        let s = b0.slice(1, 2);
        assert_eq!(strings(&s, 0), owned(&[Some("b"), None]));
        // Batches with different dictionaries concatenate (Reader::rows).
        let all = arrow::compute::concat_batches(&b0.schema(), [&b0, &b1, &b2]).unwrap();
        let col = arrow::compute::cast(all.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
        let col: Vec<Option<&str>> = col.as_string::<i32>().iter().collect();
        assert_eq!(
            col,
            [
                Some("a"),
                Some("b"),
                None,
                Some("a"),
                Some("dé"),
                None,
                Some("b")
            ]
        );
    }

    /// Frames are decoded where they lie: in a buffer at any alignment
    /// (the receiving thread decodes in the WebSocket layer's buffer), in
    /// parallel or not, to the same batches.
    #[test]
    fn frames_decode_alike_at_any_alignment_and_in_parallel() {
        let rows = 40_000;
        let f = ResultBatch {
            request_id: 7,
            batch_seq: 0,
            delta: Some(SymbolDelta {
                start: 0,
                entries: vec!["x".into(), "yy".into()],
            }),
            schema: ["l", "d", "v", "s"]
                .iter()
                .zip([
                    ColumnType::Long,
                    ColumnType::Double,
                    ColumnType::Varchar,
                    ColumnType::Symbol,
                ])
                .map(|(n, ty)| ColumnDef {
                    name: n.to_string(),
                    ty,
                })
                .collect(),
            columns: vec![
                ColumnData::with_nulls(
                    Values::Long((0..rows as i64 - rows as i64 / 3).collect()),
                    (0..rows).map(|i| i % 3 == 1).collect(),
                ),
                ColumnData::new(Values::Double(
                    (0..rows)
                        .map(|i| if i % 11 == 0 { f64::NAN } else { i as f64 })
                        .collect(),
                )),
                ColumnData::new(Values::Varchar(
                    (0..rows).map(|i| "é".repeat(i % 5)).collect(),
                )),
                ColumnData::with_nulls(
                    Values::Symbol((0..rows - rows / 4).map(|i| (i % 2) as u32).collect()),
                    (0..rows).map(|i| i % 4 == 3).collect(),
                ),
            ],
            row_count: rows,
        }
        .to_frame(None)
        .unwrap();
        assert!(f.len() >= PARALLEL_DECODE_MIN_BYTES, "{}", f.len());
        let mut d = BatchDecoder::new(1);
        let want = batch(&mut d, &f);
        assert_eq!(want.num_rows(), rows);
        assert_eq!(
            want.column(0).null_count(),
            (0..rows).filter(|i| i % 3 == 1).count()
        );
        assert_eq!(want.column(1).null_count(), rows.div_ceil(11));
        for (at, parallel) in (0..8).zip([true, false].into_iter().cycle()) {
            let mut buf = vec![0u8; at];
            buf.extend_from_slice(&f);
            let mut d = BatchDecoder::new(1);
            d.set_parallel(parallel);
            assert_eq!(batch(&mut d, &buf[at..]), want, "offset {at}");
        }
    }

    #[test]
    fn cache_reset_starts_a_new_dictionary() {
        let mut d = BatchDecoder::new(1);
        let b0 = batch(&mut d, &frame(0, 0, &["a", "b"], &[vec![Some(1), Some(0)]]));
        let end = ServerControl::ResultEnd {
            request_id: 7,
            final_seq: 0,
            total_rows: 2,
        };
        assert!(matches!(
            d.decode(&end.to_frame()).unwrap(),
            Decoded::Control(_)
        ));
        let reset = ServerControl::CacheReset {
            mask: RESET_MASK_DICT,
        };
        assert!(matches!(
            d.decode(&reset.to_frame()).unwrap(),
            Decoded::Control(ServerControl::CacheReset { .. })
        ));
        d.start_query();
        // After the reset the delta starts at 0 again and ids mean new strings.
        let b1 = batch(&mut d, &frame(0, 0, &["x"], &[vec![Some(0), None]]));
        assert_eq!(dict(&b1, 0).values().len(), 1);
        assert_eq!(strings(&b1, 0), owned(&[Some("x"), None]));
        // The batch from before the reset still reads its own strings.
        assert_eq!(strings(&b0, 0), owned(&[Some("b"), Some("a")]));
        // Unknown bits alone clear nothing.
        let other = ServerControl::CacheReset { mask: 0x80 };
        d.decode(&other.to_frame()).unwrap();
        d.start_query();
        let b2 = batch(&mut d, &frame(0, 1, &["y"], &[vec![Some(1), Some(0)]]));
        assert_eq!(strings(&b2, 0), owned(&[Some("y"), Some("x")]));
    }

    #[test]
    fn dictionary_errors_are_errors() {
        let mut d = BatchDecoder::new(1);
        // A delta that skips ids.
        let e = d
            .decode(&frame(0, 3, &["a"], &[vec![Some(0)]]))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.to_string().contains("starts at 3"), "{e}");
        // An id beyond the dictionary.
        d.start_query();
        let e = d
            .decode(&frame(0, 0, &["a"], &[vec![Some(1)]]))
            .unwrap_err();
        assert!(e.to_string().contains("symbol id 1"), "{e}");
        assert!(e.to_string().contains("\"s0\""), "{e}");
    }

    proptest::proptest! {
        /// SYMBOL ids from the wire, some past the dictionary (2^31 and
        /// more too, which would be negative keys), with NULLs anywhere: a
        /// typed error naming an id past it, or an array that passes
        /// arrow's full validation; never a panic.
        #[test]
        fn symbol_ids_from_the_wire_are_checked(
            entries in 0usize..5,
            ids in proptest::collection::vec(
                proptest::option::of(proptest::prop_oneof![
                    0u32..6,
                    proptest::strategy::Just(u32::MAX),
                    (1u32 << 31)..u32::MAX,
                ]),
                0..60,
            ),
        ) {
            let names: Vec<String> = (0..entries).map(|i| format!("e{i}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut d = BatchDecoder::new(1);
            let res = d.decode(&frame(0, 0, &names, std::slice::from_ref(&ids)));
            let past = ids.iter().flatten().find(|&&id| id as usize >= entries);
            match (res, past) {
                (Ok(Decoded::Batch { batch, .. }), None) => {
                    batch.column(0).to_data().validate_full().unwrap();
                    let got = strings(&batch, 0);
                    let want: Vec<Option<String>> =
                        ids.iter().map(|id| id.map(|i| format!("e{i}"))).collect();
                    proptest::prop_assert_eq!(got, want);
                }
                (Err(e), Some(id)) => {
                    proptest::prop_assert_eq!(e.kind(), ErrorKind::Protocol);
                    let text = format!("symbol id {id} is not");
                    proptest::prop_assert!(e.to_string().contains(&text), "{}", e);
                }
                (Ok(_), Some(id)) => proptest::prop_assert!(false, "id {} accepted", id),
                (Err(e), None) => proptest::prop_assert!(false, "{}", e),
                (Ok(Decoded::Control(c)), _) => proptest::prop_assert!(false, "{:?}", c),
            }
        }
    }

    #[test]
    fn null_and_empty_symbol_columns() {
        let mut d = BatchDecoder::new(1);
        // All NULL with an empty dictionary: keys are masked, no value needed.
        let b = batch(&mut d, &frame(0, 0, &[], &[vec![None, None, None]]));
        assert_eq!(b.column(0).null_count(), 3);
        assert_eq!(dict(&b, 0).values().len(), 0);
        b.column(0).to_data().validate_full().unwrap();
        // An empty batch keeps its schema.
        d.start_query();
        let b = batch(&mut d, &frame(0, 0, &["a"], &[vec![], vec![]]));
        assert_eq!(b.num_rows(), 0);
        assert_eq!(b.num_columns(), 2);
        assert_eq!(dict(&b, 1).values().len(), 1);
    }
}
