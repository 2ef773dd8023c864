//! Parquet in and out (feature `parquet`): [`ingest_parquet`] streams a
//! file's row groups into [`QuestDb::ingest`]; [`export_parquet`] streams
//! a query's batches into a Parquet file.
//!
//! Memory bound of [`ingest_parquet`]: the Parquet reader decodes one row
//! group at a time, in batches of [`ParquetOptions::batch_rows`] rows; the
//! ingest pipeline keeps at most `in_flight_frames + 1` batches that are
//! not yet acknowledged plus two frame buffers. So peak memory is about one
//! decoded row group (its compressed column chunks and pages) plus
//! (`in_flight_frames` + 2) × `batch_rows` rows of Arrow data — never the
//! whole file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{ChunkReader, Length};

use crate::client::{IngestOptions, IngestSummary, QuestDb};
use crate::error::{Error, ErrorKind, Result};

/// Rows per Arrow batch read from a Parquet file, by default.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// How a Parquet file is read.
#[derive(Debug, Clone, Copy)]
pub struct ParquetOptions {
    /// Rows per Arrow batch (each batch commits atomically).
    pub batch_rows: usize,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            batch_rows: DEFAULT_BATCH_ROWS,
        }
    }
}

/// A Parquet error while `what` the file at `path`: [`ErrorKind::Io`]
/// with the `io::Error` as source for a file error, else invalid data with
/// the `ParquetError` as source.
fn file_err(path: &Path, what: &str, e: parquet::errors::ParquetError) -> Error {
    Error::parquet(
        ErrorKind::InvalidData,
        format!("{what} {}", path.display()),
        e,
    )
}

/// An I/O error while `what` the file at `path`, the `io::Error` its
/// source.
fn io_err(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::from(e).context(format!("{what} {}", path.display()))
}

/// Streams the Parquet file at `path` into `table` with bounded memory (see
/// the module docs), each batch of `ParquetOptions::batch_rows` rows
/// committed atomically, with the options and the at-least-once delivery of
/// [`QuestDb::ingest`].
pub fn ingest_parquet(
    db: &QuestDb,
    path: impl AsRef<Path>,
    table: &str,
    opts: &IngestOptions,
) -> Result<IngestSummary> {
    ingest_parquet_with(db, path, table, opts, ParquetOptions::default())
}

/// [`ingest_parquet`] with explicit reading options.
pub fn ingest_parquet_with(
    db: &QuestDb,
    path: impl AsRef<Path>,
    table: &str,
    opts: &IngestOptions,
    popts: ParquetOptions,
) -> Result<IngestSummary> {
    let path = path.as_ref();
    let batches = open_parquet(path, popts)?;
    db.ingest(table, batches, opts)
        .map_err(|e| e.context(format!("loading {}", path.display())))
}

/// The first I/O error of a [`TrackedFile`]'s reads, kept for the caller
/// (the parquet crate keeps only its text).
type IoSlot = Arc<Mutex<Option<io::Error>>>;

/// Records `e` in `slot` unless an earlier error is there, and returns a
/// copy (same kind and text) for the parquet crate.
fn record(slot: &IoSlot, e: io::Error) -> io::Error {
    let copy = io::Error::new(e.kind(), e.to_string());
    let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if s.is_none() {
        *s = Some(e);
    }
    copy
}

/// Takes the recorded I/O error, if any.
fn take(slot: &IoSlot) -> Option<io::Error> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// A Parquet file read through the parquet crate's [`ChunkReader`] that
/// remembers the first `io::Error` of its reads: the Arrow reader turns a
/// failed row-group read into `ArrowError::ParquetError(String)`, dropping
/// the `io::Error`, and [`ParquetBatches`] puts it back.
struct TrackedFile {
    file: Arc<File>,
    /// The file's length when opened (the footer is read against it).
    len: u64,
    err: IoSlot,
}

impl TrackedFile {
    fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(TrackedFile {
            file: Arc::new(file),
            len,
            err: IoSlot::default(),
        })
    }
}

impl Length for TrackedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

/// A reader of a [`TrackedFile`] from a given offset. It keeps its own
/// position (seeking before each read), and a file that ends before the
/// length it had when opened is an `UnexpectedEof` I/O error, recorded like
/// any other.
struct TrackedRead {
    file: Arc<File>,
    pos: u64,
    len: u64,
    err: IoSlot,
}

impl TrackedRead {
    fn read_here(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut f = &*self.file;
        f.seek(SeekFrom::Start(self.pos))?;
        let n = f.read(buf)?;
        if n == 0 && !buf.is_empty() && self.pos < self.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the file ends at byte {}, before the {} bytes it had when opened \
                     (truncated while being read?)",
                    self.pos, self.len
                ),
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Read for TrackedRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.read_here(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(record(&self.err, e)),
            ok => ok,
        }
    }
}

impl TrackedFile {
    fn reader(&self, start: u64) -> TrackedRead {
        TrackedRead {
            file: Arc::clone(&self.file),
            pos: start,
            len: self.len,
            err: Arc::clone(&self.err),
        }
    }
}

impl ChunkReader for TrackedFile {
    type T = io::BufReader<TrackedRead>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(io::BufReader::new(self.reader(start)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let eof = || {
            ParquetError::EOF(format!(
                "{length} bytes at offset {start} are past the end of the file ({} bytes)",
                self.len
            ))
        };
        if start.saturating_add(length as u64) > self.len {
            return Err(eof());
        }
        let mut buf = Vec::with_capacity(length);
        // The reader records an I/O error; a short read is an error there.
        let n = self
            .reader(start)
            .take(length as u64)
            .read_to_end(&mut buf)?;
        if n != length {
            return Err(eof());
        }
        Ok(buf.into())
    }
}

/// The Arrow batches of a Parquet file, one row group decoded at a time; a
/// batch that fails on an I/O error is this crate's [`ErrorKind::Io`]
/// error (inside `ArrowError::ExternalError`, which [`Error::arrow`]
/// unwraps) with the `io::Error` as its source. Open one with
/// [`open_parquet`]; it is what [`ingest_parquet`] and the CLI's `load`
/// read through.
pub struct ParquetBatches {
    inner: ParquetRecordBatchReader,
    err: IoSlot,
    path: PathBuf,
    rows: u64,
}

impl ParquetBatches {
    /// Rows in the file, from its footer.
    pub fn num_rows(&self) -> u64 {
        self.rows
    }
}

impl arrow::array::RecordBatchReader for ParquetBatches {
    fn schema(&self) -> arrow::datatypes::SchemaRef {
        self.inner.schema()
    }
}

impl Iterator for ParquetBatches {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.inner.next()? {
            Ok(b) => Some(Ok(b)),
            Err(e) => Some(Err(match take(&self.err) {
                Some(io) => ArrowError::ExternalError(Box::new(io_err(&self.path, "reading", io))),
                None => e,
            })),
        }
    }
}

/// Opens the Parquet file at `path` for streaming, one row group decoded
/// at a time, in batches of `popts.batch_rows` rows (see [`ParquetBatches`]).
pub fn open_parquet(path: impl AsRef<Path>, popts: ParquetOptions) -> Result<ParquetBatches> {
    let path = path.as_ref();
    let file = TrackedFile::open(path).map_err(|e| io_err(path, "opening", e))?;
    let err = Arc::clone(&file.err);
    // The recorded `io::Error` when there is one, else the parquet error.
    let pq_err = |what: &str, e| match take(&err) {
        Some(io) => io_err(path, what, io),
        None => file_err(path, what, e),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| pq_err("reading the Parquet footer of", e))?;
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let inner = builder
        .with_batch_size(popts.batch_rows.max(1))
        .build()
        .map_err(|e| pq_err("reading", e))?;
    Ok(ParquetBatches {
        inner,
        err,
        path: path.to_owned(),
        rows,
    })
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Rows written.
    pub rows: u64,
    /// Batches written.
    pub batches: u64,
}

/// Runs `sql` and streams its batches into a Parquet file at `path`
/// (zstd-compressed; the Arrow schema with its `questdb.*` metadata is kept
/// in the file). Memory: the cursor's read-ahead plus the writer's current
/// row group. The file appears only when complete (written to a temporary
/// name, then renamed).
pub fn export_parquet(db: &QuestDb, sql: &str, path: impl AsRef<Path>) -> Result<ExportSummary> {
    let path = path.as_ref();
    let mut cur = db.query_arrow(sql)?;
    let tmp: PathBuf = {
        let mut t = path.as_os_str().to_owned();
        t.push(".partial");
        t.into()
    };
    let file = File::create(&tmp).map_err(|e| io_err(&tmp, "creating", e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let result = (|| {
        let mut w = ArrowWriter::try_new(file, cur.schema(), Some(props))
            .map_err(|e| file_err(path, "writing", e))?;
        let mut sum = ExportSummary {
            rows: 0,
            batches: 0,
        };
        while let Some(b) = cur.next_arrow_batch()? {
            sum.rows += b.num_rows() as u64;
            sum.batches += 1;
            w.write(&b).map_err(|e| file_err(path, "writing", e))?;
        }
        w.close().map_err(|e| file_err(path, "finishing", e))?;
        Ok(sum)
    })();
    match result {
        Ok(sum) => {
            std::fs::rename(&tmp, path).map_err(|e| io_err(path, "renaming to", e))?;
            Ok(sum)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;

    /// A Parquet file of `groups` row groups of 1000 rows each.
    fn write_file(path: &Path, groups: i64) {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(1000))
            .build();
        let f = File::create(path).unwrap();
        let mut w = ArrowWriter::try_new(f, Arc::clone(&schema), Some(props)).unwrap();
        let v = Int64Array::from_iter_values(0..groups * 1000);
        w.write(&RecordBatch::try_new(schema, vec![Arc::new(v)]).unwrap())
            .unwrap();
        w.close().unwrap();
    }

    #[test]
    fn a_read_error_mid_file_is_an_io_error_with_its_source() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("qa-parquet-trunc-{}.parquet", std::process::id()));
        write_file(&path, 3);
        let meta = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
            .unwrap()
            .metadata()
            .clone();
        let len = std::fs::metadata(&path).unwrap().len();
        let cut = meta.row_group(1).column(0).byte_range().0;
        let mut batches = open_parquet(&path, ParquetOptions { batch_rows: 1000 }).unwrap();
        assert_eq!(batches.next().unwrap().unwrap().num_rows(), 1000);
        // The footer has been read; the file loses everything from the
        // second row group on.
        assert!(cut > 0 && cut < len, "{cut} of {len}");
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let err = batches.next().unwrap().unwrap_err();
        std::fs::remove_file(&path).unwrap();
        // As the ingest pipeline maps an input error.
        let e = Error::arrow(ErrorKind::InvalidData, "reading input batch 1", err);
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        let io = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            io.map(|io| io.kind()),
            Some(io::ErrorKind::UnexpectedEof),
            "{e}"
        );
        assert!(e.message().contains("qa-parquet-trunc-"), "{e}");
        assert!(e.to_string().contains("before the"), "{e}");
    }
}
