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
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

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
    let file = File::open(path).map_err(|e| io_err(path, "opening", e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| file_err(path, "reading the Parquet footer of", e))?
        .with_batch_size(popts.batch_rows.max(1))
        .build()
        .map_err(|e| file_err(path, "reading", e))?;
    db.ingest(table, reader, opts)
        .map_err(|e| e.context(format!("loading {}", path.display())))
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
