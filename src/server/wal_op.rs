//! The payload of a write-ahead log record: one [`Op`], a change to the
//! catalogue, encoded by [`Op::encode_into`] and read back by
//! [`Op::decode`] (which never panics on damaged bytes). Batches travel as
//! Arrow IPC streams.

use std::io;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::{Error, ErrorKind, Result};

/// One change to the catalogue.
#[derive(Debug, Clone)]
pub enum Op {
    /// Rows appended to tables in one atomic commit: `(table, batch,
    /// designated timestamp name for a new table)`.
    Commit(Vec<(String, RecordBatch, Option<String>)>),
    /// `CREATE TABLE`.
    Create {
        /// Table name.
        name: String,
        /// Columns.
        schema: SchemaRef,
        /// Index of the designated timestamp.
        designated: Option<usize>,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `DROP TABLE`.
    Drop(String),
    /// `TRUNCATE TABLE`.
    Truncate(String),
    /// `ALTER TABLE … DEDUP ENABLE UPSERT KEYS(…)` (the key column names)
    /// or, with no keys, `DEDUP DISABLE`.
    Dedup {
        /// Table name.
        name: String,
        /// Upsert key column names; empty turns dedup off.
        keys: Vec<String>,
    },
}

const OP_COMMIT: u8 = 1;
const OP_CREATE: u8 = 2;
const OP_DROP: u8 = 3;
const OP_TRUNCATE: u8 = 4;
const OP_DEDUP: u8 = 5;

pub(super) fn bad(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidData, msg)
}

/// Arrow IPC stream bytes of one batch (schema and field metadata included).
pub fn ipc_encode(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    ipc_write(&mut out, batch)?;
    Ok(out)
}

/// Appends the Arrow IPC stream of one batch to `out`, in place.
fn ipc_write(out: &mut Vec<u8>, batch: &RecordBatch) -> Result<()> {
    let ipc = |e: arrow::error::ArrowError| Error::new(ErrorKind::Io, format!("arrow ipc: {e}"));
    let mut w = arrow::ipc::writer::StreamWriter::try_new(out, batch.schema_ref()).map_err(ipc)?;
    w.write(batch).map_err(ipc)?;
    w.finish().map_err(ipc)
}

/// Appends `u32 length | what f writes` to `out`.
fn put_with(out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    f(out)?;
    let n = u32::try_from(out.len() - at - 4).map_err(|_| bad("wal record: field above 4 GiB"))?;
    out[at..at + 4].copy_from_slice(&n.to_le_bytes());
    Ok(())
}

/// The one batch of an Arrow IPC stream written by [`ipc_encode`].
pub fn ipc_decode(bytes: &[u8]) -> Result<RecordBatch> {
    let ipc = |e: arrow::error::ArrowError| bad(format!("arrow ipc: {e}"));
    let mut r =
        arrow::ipc::reader::StreamReader::try_new(io::Cursor::new(bytes), None).map_err(ipc)?;
    let schema = r.schema();
    match r.next() {
        Some(b) => b.map_err(ipc),
        None => Ok(RecordBatch::new_empty(schema)),
    }
}

struct Cur<'a> {
    b: &'a [u8],
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() < n {
            return Err(bad("wal record: truncated payload"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn i64(&mut self) -> Result<i64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn str(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| bad("wal record: name is not UTF-8"))
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) -> Result<()> {
    let n = u32::try_from(b.len()).map_err(|_| bad("wal record: field above 4 GiB"))?;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(b);
    Ok(())
}

impl Op {
    /// The record payload.
    #[cfg(test)]
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the record payload to `out`; batches are written in place
    /// (one copy of their buffers).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Op::Commit(writes) => {
                out.push(OP_COMMIT);
                out.extend_from_slice(&(writes.len() as u32).to_le_bytes());
                for (name, batch, designated) in writes {
                    put_bytes(out, name.as_bytes())?;
                    match designated {
                        Some(d) => {
                            out.push(1);
                            put_bytes(out, d.as_bytes())?;
                        }
                        None => out.push(0),
                    }
                    put_with(out, |o| ipc_write(o, batch))?;
                }
            }
            Op::Create {
                name,
                schema,
                designated,
                if_not_exists,
            } => {
                out.push(OP_CREATE);
                put_bytes(out, name.as_bytes())?;
                out.extend_from_slice(&designated.map_or(-1, |d| d as i64).to_le_bytes());
                out.push(u8::from(*if_not_exists));
                put_with(out, |o| {
                    ipc_write(o, &RecordBatch::new_empty(schema.clone()))
                })?;
            }
            Op::Drop(name) => {
                out.push(OP_DROP);
                put_bytes(out, name.as_bytes())?;
            }
            Op::Truncate(name) => {
                out.push(OP_TRUNCATE);
                put_bytes(out, name.as_bytes())?;
            }
            Op::Dedup { name, keys } => {
                out.push(OP_DEDUP);
                put_bytes(out, name.as_bytes())?;
                let n = u32::try_from(keys.len()).map_err(|_| bad("wal record: too many keys"))?;
                out.extend_from_slice(&n.to_le_bytes());
                for k in keys {
                    put_bytes(out, k.as_bytes())?;
                }
            }
        }
        Ok(())
    }

    /// Decodes a payload written by [`Op::encode`]; never panics.
    pub fn decode(payload: &[u8]) -> Result<Op> {
        let mut c = Cur { b: payload };
        let op = match c.u8()? {
            OP_COMMIT => {
                let n = c.u32()? as usize;
                let mut writes = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let name = c.str()?;
                    let designated = match c.u8()? {
                        0 => None,
                        1 => Some(c.str()?),
                        x => return Err(bad(format!("wal record: bad option tag {x}"))),
                    };
                    let batch = ipc_decode(c.bytes()?)?;
                    writes.push((name, batch, designated));
                }
                Op::Commit(writes)
            }
            OP_CREATE => {
                let name = c.str()?;
                let d = c.i64()?;
                let if_not_exists = c.u8()? != 0;
                let schema = ipc_decode(c.bytes()?)?.schema();
                let designated = usize::try_from(d)
                    .ok()
                    .filter(|&d| d < schema.fields().len());
                Op::Create {
                    name,
                    schema,
                    designated,
                    if_not_exists,
                }
            }
            OP_DROP => Op::Drop(c.str()?),
            OP_TRUNCATE => Op::Truncate(c.str()?),
            OP_DEDUP => {
                let name = c.str()?;
                let n = c.u32()? as usize;
                let mut keys = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    keys.push(c.str()?);
                }
                Op::Dedup { name, keys }
            }
            x => return Err(bad(format!("wal record: unknown op {x}"))),
        };
        if !c.b.is_empty() {
            return Err(bad("wal record: trailing bytes"));
        }
        Ok(op)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    /// A batch of `x` = `v` and `s` = "v<x>" (shared with the log's tests).
    pub(in crate::server) fn batch(v: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let s: Vec<Option<String>> = v.iter().map(|x| Some(format!("v{x}"))).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(v.to_vec())),
                Arc::new(StringArray::from(s)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn ops_round_trip() {
        let ops = [
            Op::Commit(vec![("t".into(), batch(&[1, 2]), Some("ts".into()))]),
            Op::Create {
                name: "n".into(),
                schema: batch(&[]).schema(),
                designated: Some(0),
                if_not_exists: true,
            },
            Op::Drop("d".into()),
            Op::Truncate("u".into()),
            Op::Dedup {
                name: "k".into(),
                keys: vec!["ts".into(), "id".into()],
            },
            Op::Dedup {
                name: "k".into(),
                keys: vec![],
            },
        ];
        for op in ops {
            let enc = op.encode().unwrap();
            let dec = Op::decode(&enc).unwrap();
            assert_eq!(format!("{op:?}"), format!("{dec:?}"));
            // Every prefix is an error, never a panic.
            for n in 0..enc.len() {
                assert!(Op::decode(&enc[..n]).is_err(), "prefix {n}");
            }
        }
    }
}
