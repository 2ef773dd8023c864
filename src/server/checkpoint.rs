//! Checkpoints of the embedded server's tables: Parquet part files and the
//! manifest that lists them with whole-file checksums.
//!
//! Layout of a data directory:
//!
//! ```text
//! MANIFEST-<generation>          the two newest generations are kept
//! tables/<name>-<id>-<lsn>.parquet   part files (written to *.tmp, fsynced, renamed)
//! wal/wal-<first lsn>.log        the write-ahead log (see `wal.rs`)
//! ```
//!
//! A manifest is text, one item per line, ending with a CRC-32 of
//! everything before it:
//!
//! ```text
//! questdb-arrow manifest 1
//! lsn <every WAL record up to here is in the parts>
//! next_id <table ids start here>
//! table <id> <txn> <base64 name> <base64 Arrow IPC schema>
//! part <file name> <bytes> <crc32 hex> <rows>
//! end <crc32 hex>
//! ```
//!
//! Table names are stored in the manifest, not derived from file names, so
//! two names can never share a file: the file name carries the table's
//! unique id.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use base64::Engine;

use super::direct::PacedFile;
use super::wal::{ipc_decode, ipc_encode, sync_dir};
use crate::error::{Error, ErrorKind, Result};

const HEADER: &str = "questdb-arrow manifest 1";

/// One Parquet part of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// File name under `tables/`.
    pub file: String,
    /// Length in bytes.
    pub len: u64,
    /// CRC-32 of the whole file.
    pub crc: u32,
    /// Rows in it.
    pub rows: u64,
}

/// A table as a manifest lists it.
#[derive(Debug, Clone)]
pub struct TableEntry {
    /// Unique id (never reused in one data directory).
    pub id: u64,
    /// Name as first written.
    pub name: String,
    /// Commits so far.
    pub txn: i64,
    /// Columns (with `questdb.*` metadata).
    pub schema: SchemaRef,
    /// Parts, in row order.
    pub parts: Vec<Part>,
}

/// A checkpoint: the state of every table after WAL record `lsn`.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// Generation (file `MANIFEST-<gen>`).
    pub generation: u64,
    /// Last WAL record reflected in the parts.
    pub lsn: u64,
    /// The next table id to hand out.
    pub next_id: u64,
    /// Tables.
    pub tables: Vec<TableEntry>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn bad(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidData, format!("{}: {msg}", path.display()))
}

/// File name of generation `g`.
pub fn manifest_name(g: u64) -> String {
    format!("MANIFEST-{g:020}")
}

fn manifest_gen(p: &Path) -> Option<u64> {
    p.file_name()?
        .to_str()?
        .strip_prefix("MANIFEST-")?
        .parse()
        .ok()
}

impl Manifest {
    /// The text of the manifest, checksum line included.
    pub fn render(&self) -> Result<String> {
        let mut s = format!("{HEADER}\nlsn {}\nnext_id {}\n", self.lsn, self.next_id);
        for t in &self.tables {
            let schema = ipc_encode(&RecordBatch::new_empty(t.schema.clone()))?;
            s.push_str(&format!(
                "table {} {} {} {}\n",
                t.id,
                t.txn,
                b64().encode(t.name.as_bytes()),
                b64().encode(schema)
            ));
            for p in &t.parts {
                s.push_str(&format!(
                    "part {} {} {:08x} {}\n",
                    p.file, p.len, p.crc, p.rows
                ));
            }
        }
        let crc = crc32fast::hash(s.as_bytes());
        s.push_str(&format!("end {crc:08x}\n"));
        Ok(s)
    }

    /// Parses a manifest's text; any damage is an error naming the line.
    pub fn parse(path: &Path, text: &str, generation: u64) -> Result<Manifest> {
        let body_end = text
            .rfind("\nend ")
            .ok_or_else(|| bad(path, "no checksum line (truncated?)"))?;
        let (body, tail) = text.split_at(body_end + 1);
        if !tail.ends_with('\n') {
            return Err(bad(path, "truncated checksum line"));
        }
        let want = u32::from_str_radix(tail.trim_start_matches("end ").trim(), 16)
            .map_err(|_| bad(path, "unreadable checksum line"))?;
        if crc32fast::hash(body.as_bytes()) != want {
            return Err(bad(path, "checksum mismatch"));
        }
        let mut lines = body.lines();
        if lines.next() != Some(HEADER) {
            return Err(bad(path, "not a questdb-arrow manifest"));
        }
        let mut m = Manifest {
            generation,
            ..Manifest::default()
        };
        for (no, line) in lines.enumerate() {
            let f: Vec<&str> = line.split(' ').collect();
            let line_err = || bad(path, format!("line {}: {line:?}", no + 2));
            let num = |s: &str| s.parse::<u64>().map_err(|_| line_err());
            match f.as_slice() {
                ["lsn", v] => m.lsn = num(v)?,
                ["next_id", v] => m.next_id = num(v)?,
                ["table", id, txn, name, schema] => {
                    let name = b64()
                        .decode(name)
                        .ok()
                        .and_then(|n| String::from_utf8(n).ok())
                        .ok_or_else(line_err)?;
                    let schema = b64().decode(schema).map_err(|_| line_err())?;
                    let schema = ipc_decode(&schema)
                        .map_err(|e| bad(path, format!("line {}: {e}", no + 2)))?
                        .schema();
                    m.tables.push(TableEntry {
                        id: num(id)?,
                        name,
                        txn: txn.parse().map_err(|_| line_err())?,
                        schema,
                        parts: Vec::new(),
                    });
                }
                ["part", file, len, crc, rows] => {
                    if file.contains('/') || file.contains("..") {
                        return Err(line_err());
                    }
                    let part = Part {
                        file: file.to_string(),
                        len: num(len)?,
                        crc: u32::from_str_radix(crc, 16).map_err(|_| line_err())?,
                        rows: num(rows)?,
                    };
                    m.tables.last_mut().ok_or_else(line_err)?.parts.push(part);
                }
                _ => return Err(line_err()),
            }
        }
        Ok(m)
    }

    /// Writes generation `self.generation` atomically: temporary file,
    /// fsync, rename, directory fsync.
    pub fn store(&self, dir: &Path) -> Result<()> {
        let text = self.render()?;
        let path = dir.join(manifest_name(self.generation));
        let tmp = path.with_extension("tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        sync_dir(dir)?;
        Ok(())
    }
}

/// The newest manifest that reads back intact, with warnings about newer
/// damaged ones. `Ok(None)` for a directory without manifests; an error when
/// manifests exist and none is intact.
pub fn load_newest(dir: &Path) -> Result<(Option<Manifest>, Vec<String>)> {
    let mut gens: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_none())
        .filter_map(|p| manifest_gen(&p).map(|g| (g, p)))
        .collect();
    gens.sort_by_key(|g| std::cmp::Reverse(g.0));
    let mut warnings = Vec::new();
    for (g, p) in &gens {
        let text = match std::fs::read(p) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                warnings.push(format!("{}: {e}", p.display()));
                continue;
            }
        };
        match Manifest::parse(p, &text, *g) {
            Ok(m) => return Ok((Some(m), warnings)),
            Err(e) => warnings.push(format!("{e}; using an older manifest")),
        }
    }
    if gens.is_empty() {
        Ok((None, warnings))
    } else {
        Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "{}: no intact manifest ({}); restore the directory from a backup",
                dir.display(),
                warnings.join("; ")
            ),
        ))
    }
}

/// A writer that computes the CRC-32 and length of what passes through.
struct Summing<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Write for Summing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn safe_prefix(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(32)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Writes `batches` (conformed to `schema`) as one Parquet part under
/// `tables_dir`: temporary name, fsync, rename. The directory is fsynced by
/// the caller once all parts of a checkpoint are written. The file is
/// written with direct I/O where available, yielding the disk while
/// `busy()` (see [`PacedFile`]).
pub fn write_part(
    tables_dir: &Path,
    name: &str,
    id: u64,
    lsn: u64,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    busy: &(dyn Fn() -> bool + Sync),
) -> Result<Part> {
    let file = format!("{}-{id}-{lsn}.parquet", safe_prefix(name));
    let path = tables_dir.join(&file);
    let tmp = tables_dir.join(format!("{file}.tmp"));
    let pq = |e: parquet::errors::ParquetError| {
        Error::new(ErrorKind::Io, format!("{}: {e}", tmp.display()))
    };
    let f = PacedFile::create(&tmp, busy)?;
    // Speed over size: no compression, no statistics, and dictionary pages
    // only for the SYMBOL columns (already dictionaries in memory); hashing
    // or compressing every value costs more than the checkpoint's write.
    let mut props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::UNCOMPRESSED)
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::None)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(1 << 20));
    for f in schema.fields() {
        if matches!(f.data_type(), arrow::datatypes::DataType::Dictionary(..)) {
            props = props.set_column_dictionary_enabled(
                parquet::schema::types::ColumnPath::from(f.name().as_str()),
                true,
            );
        }
    }
    let props = props.build();
    let sink = Summing {
        inner: f,
        crc: crc32fast::Hasher::new(),
        len: 0,
    };
    let mut w =
        parquet::arrow::ArrowWriter::try_new(sink, schema.clone(), Some(props)).map_err(pq)?;
    let mut rows = 0u64;
    for b in batches {
        let b = RecordBatch::try_new(schema.clone(), b.columns().to_vec())
            .map_err(|e| Error::new(ErrorKind::InvalidData, format!("{}: {e}", tmp.display())))?;
        rows += b.num_rows() as u64;
        w.write(&b).map_err(pq)?;
    }
    let sink = w.into_inner().map_err(pq)?;
    let crc = sink.crc.finalize();
    let len = sink.len;
    let f = sink.inner.finish()?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)?;
    Ok(Part {
        file,
        len,
        crc,
        rows,
    })
}

/// Reads a part back, verifying its length and checksum first.
pub fn read_part(tables_dir: &Path, part: &Part) -> Result<Vec<RecordBatch>> {
    let path = tables_dir.join(&part.file);
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::from(e).context(format!("part {}", path.display())))?;
    if bytes.len() as u64 != part.len {
        return Err(bad(
            &path,
            format!("{} bytes, the manifest says {}", bytes.len(), part.len),
        ));
    }
    let crc = crc32fast::hash(&bytes);
    if crc != part.crc {
        return Err(bad(
            &path,
            format!("checksum {crc:08x}, the manifest says {:08x}", part.crc),
        ));
    }
    let pq = |e: parquet::errors::ParquetError| bad(&path, e);
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(bytes),
    )
    .map_err(pq)?
    .with_batch_size(1 << 16)
    .build()
    .map_err(pq)?;
    let mut out = Vec::new();
    let mut rows = 0u64;
    for b in reader {
        let b = b.map_err(|e| bad(&path, e))?;
        rows += b.num_rows() as u64;
        out.push(b);
    }
    if rows != part.rows {
        return Err(bad(
            &path,
            format!("{rows} rows, the manifest says {}", part.rows),
        ));
    }
    Ok(out)
}

/// Deletes files under `tables_dir` that no kept manifest names (and
/// leftover temporary files).
pub fn remove_unreferenced(tables_dir: &Path, keep: &[&Manifest]) -> Result<()> {
    let mut referenced: HashMap<&str, ()> = HashMap::new();
    for m in keep {
        for t in &m.tables {
            for p in &t.parts {
                referenced.insert(p.file.as_str(), ());
            }
        }
    }
    for e in std::fs::read_dir(tables_dir)? {
        let p = e?.path();
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !referenced.contains_key(name) {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// Deletes manifest generations below `oldest_kept`.
pub fn remove_old_manifests(dir: &Path, oldest_kept: u64) -> Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let tmp = p.extension().is_some_and(|x| x == "tmp");
        if let Some(g) = manifest_gen(&p.with_extension(""))
            && (g < oldest_kept || tmp)
        {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn manifest_round_trip_and_damage() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let m = Manifest {
            generation: 3,
            lsn: 42,
            next_id: 7,
            tables: vec![TableEntry {
                id: 5,
                name: "a b~c 表".into(),
                txn: 9,
                schema,
                parts: vec![Part {
                    file: "ab-5-42.parquet".into(),
                    len: 100,
                    crc: 0xdead_beef,
                    rows: 10,
                }],
            }],
        };
        let text = m.render().unwrap();
        let p = Path::new("MANIFEST");
        let back = Manifest::parse(p, &text, 3).unwrap();
        assert_eq!(back.lsn, 42);
        assert_eq!(back.next_id, 7);
        assert_eq!(back.tables[0].name, "a b~c 表");
        assert_eq!(back.tables[0].parts, m.tables[0].parts);
        // Every single-byte flip and every truncation is detected.
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] ^= 0x01;
            let t = String::from_utf8_lossy(&b);
            assert!(Manifest::parse(p, &t, 3).is_err(), "flip at {i}");
            assert!(Manifest::parse(p, &text[..i], 3).is_err(), "cut at {i}");
        }
    }

    #[test]
    fn parts_verify_checksums() {
        let dir = std::env::temp_dir().join(format!("qa-parts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(0..1000))],
        )
        .unwrap();
        let part = write_part(&dir, "t", 1, 1, &schema, std::slice::from_ref(&b), &|| {
            false
        })
        .unwrap();
        let back = read_part(&dir, &part).unwrap();
        assert_eq!(back.iter().map(|b| b.num_rows()).sum::<usize>(), 1000);
        let path = dir.join(&part.file);
        let orig = std::fs::read(&path).unwrap();
        for i in (0..orig.len()).step_by(97) {
            let mut x = orig.clone();
            x[i] ^= 0x10;
            std::fs::write(&path, &x).unwrap();
            assert!(read_part(&dir, &part).is_err(), "flip at {i}");
        }
        std::fs::write(&path, &orig[..orig.len() - 1]).unwrap();
        assert!(read_part(&dir, &part).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
