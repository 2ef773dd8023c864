//! Tables of the embedded server: Arrow batches in memory, kept in
//! designated-timestamp order, optionally persisted as Parquet.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use arrow::compute::{concat_batches, sort_to_indices, take};
use arrow::datatypes::{Field, Schema, SchemaRef};

use crate::bridge::{meta, qwp_type_of};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::Status;

/// Name given to the designated timestamp of tables created by ingestion.
pub const DEFAULT_TS_NAME: &str = "timestamp";

/// One table.
#[derive(Debug, Clone)]
pub struct Table {
    /// Name as first written.
    pub name: String,
    /// Columns with `questdb.*` metadata.
    pub schema: SchemaRef,
    /// Rows, in designated-timestamp order when there is one.
    pub batches: Vec<RecordBatch>,
    /// Index of the designated timestamp column.
    pub designated: Option<usize>,
    /// Commits so far (the seqTxn reported in OK responses).
    pub txn: i64,
}

impl Table {
    /// A new empty table.
    pub fn new(name: &str, schema: SchemaRef, designated: Option<usize>) -> Table {
        Table {
            name: name.to_string(),
            schema,
            batches: Vec::new(),
            designated,
            txn: 0,
        }
    }

    /// Rows stored.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    fn last_ts(&self) -> Option<i64> {
        let d = self.designated?;
        let b = self.batches.iter().rev().find(|b| b.num_rows() > 0)?;
        ts_values(b.column(d)).last().copied()
    }
}

fn ts_values(a: &ArrayRef) -> Vec<i64> {
    arrow::compute::cast(a, &arrow::datatypes::DataType::Int64)
        .ok()
        .map(|x| {
            x.as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .map(|p| p.values().to_vec())
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// A rejection that becomes an error response with a QWP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The status code.
    pub status: Status,
    /// The message (names table and column).
    pub message: String,
}

impl Reject {
    /// A new rejection.
    pub fn new(status: Status, message: impl Into<String>) -> Reject {
        Reject {
            status,
            message: message.into(),
        }
    }
}

/// All tables; shared by every connection.
#[derive(Debug, Default)]
pub struct Catalog {
    tables: RwLock<HashMap<String, Table>>,
    data_dir: Option<PathBuf>,
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn same_type(a: &Field, b: &Field) -> bool {
    match (qwp_type_of(a), qwp_type_of(b)) {
        (Ok(x), Ok(y)) => x.ty == y.ty && x.geohash_bits == y.geohash_bits && x.scale == y.scale,
        _ => a.data_type() == b.data_type(),
    }
}

/// Makes `batch` (whose columns are a subset/superset of `schema`) match
/// `schema`: missing columns become NULL.
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match batch.schema().index_of(f.name()) {
            Ok(i) => batch.column(i).clone(),
            Err(_) => new_null_array(f.data_type(), batch.num_rows()),
        })
        .collect();
    RecordBatch::try_new(schema.clone(), cols)
        .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))
}

impl Catalog {
    /// An in-memory catalog, persisting to `data_dir` when given (and
    /// loading what is there).
    pub fn open(data_dir: Option<PathBuf>) -> Result<Catalog> {
        let mut tables = HashMap::new();
        if let Some(dir) = &data_dir {
            std::fs::create_dir_all(dir)?;
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "parquet") {
                    let t = load_table(&path)?;
                    tables.insert(key(&t.name), t);
                }
            }
        }
        Ok(Catalog {
            tables: RwLock::new(tables),
            data_dir,
        })
    }

    /// A snapshot of every table (cheap: batches are reference-counted).
    pub fn snapshot(&self) -> Vec<Table> {
        self.read().values().cloned().collect()
    }

    /// One table's snapshot.
    pub fn table(&self, name: &str) -> Option<Table> {
        self.read().get(&key(name)).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Table>> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Table>> {
        self.tables.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks that `fields` fit table `name` (no type conflicts).
    pub fn check(&self, name: &str, fields: &[Arc<Field>]) -> std::result::Result<(), Reject> {
        let g = self.read();
        let Some(t) = g.get(&key(name)) else {
            return Ok(());
        };
        check_fields(t, fields)
    }

    /// Creates an empty table; `Err` if it exists (unless `if_not_exists`).
    pub fn create(
        &self,
        name: &str,
        schema: SchemaRef,
        designated: Option<usize>,
        if_not_exists: bool,
    ) -> std::result::Result<(), Reject> {
        let mut g = self.write();
        if g.contains_key(&key(name)) {
            if if_not_exists {
                return Ok(());
            }
            return Err(Reject::new(
                Status::ParseError,
                format!("table already exists: {name}"),
            ));
        }
        let t = Table::new(name, schema, designated);
        self.persist(&t);
        g.insert(key(name), t);
        Ok(())
    }

    /// Drops a table; returns whether it existed.
    pub fn drop_table(&self, name: &str) -> bool {
        let removed = self.write().remove(&key(name));
        if let (Some(t), Some(dir)) = (&removed, &self.data_dir) {
            let _ = std::fs::remove_file(table_path(dir, &t.name));
        }
        removed.is_some()
    }

    /// Removes every row of a table; returns whether it existed.
    pub fn truncate(&self, name: &str) -> bool {
        let mut g = self.write();
        match g.get_mut(&key(name)) {
            Some(t) => {
                t.batches.clear();
                t.txn += 1;
                let snapshot = t.clone();
                drop(g);
                self.persist(&snapshot);
                true
            }
            None => false,
        }
    }

    /// Appends batches to tables atomically per call: creates missing
    /// tables, adds new columns, rejects type conflicts, keeps designated-
    /// timestamp order. `designated` names the designated column of new
    /// tables. Returns `(table, seqTxn)` per table touched.
    pub fn commit(
        &self,
        writes: Vec<(String, RecordBatch, Option<String>)>,
    ) -> std::result::Result<Vec<(String, i64)>, Reject> {
        let mut g = self.write();
        // Validate everything first so a rejection leaves no partial commit.
        for (name, batch, _) in &writes {
            if let Some(t) = g.get(&key(name)) {
                check_fields(t, batch.schema().fields())?;
            }
        }
        let mut touched: Vec<String> = Vec::new();
        for (name, batch, designated) in writes {
            let k = key(&name);
            let t = g.entry(k.clone()).or_insert_with(|| {
                let d = designated
                    .as_deref()
                    .and_then(|d| batch.schema().index_of(d).ok());
                let schema = mark_designated(batch.schema(), d);
                Table::new(&name, schema, d)
            });
            append(t, batch).map_err(|e| Reject::new(Status::InternalError, e.to_string()))?;
            if !touched.contains(&k) {
                touched.push(k);
            }
        }
        let mut out = Vec::new();
        let mut to_persist = Vec::new();
        for k in touched {
            if let Some(t) = g.get_mut(&k) {
                t.txn += 1;
                out.push((t.name.clone(), t.txn));
                to_persist.push(t.clone());
            }
        }
        drop(g);
        for t in &to_persist {
            self.persist(t);
        }
        Ok(out)
    }

    fn persist(&self, t: &Table) {
        if let Some(dir) = &self.data_dir
            && let Err(e) = save_table(dir, t)
        {
            eprintln!(
                "questdb-arrow server: could not persist table {}: {e}",
                t.name
            );
        }
    }
}

fn check_fields(t: &Table, fields: &[Arc<Field>]) -> std::result::Result<(), Reject> {
    for f in fields {
        if let Ok(i) = t.schema.index_of(f.name()) {
            let have = t.schema.field(i);
            if !same_type(have, f) {
                let tn = |x: &Field| {
                    qwp_type_of(x)
                        .map(|q| q.ty.name().to_string())
                        .unwrap_or_else(|_| x.data_type().to_string())
                };
                return Err(Reject::new(
                    Status::SchemaMismatch,
                    format!(
                        "table {}, column {}: cannot write {} into a {} column",
                        t.name,
                        f.name(),
                        tn(f),
                        tn(have)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn mark_designated(schema: SchemaRef, d: Option<usize>) -> SchemaRef {
    let Some(d) = d else { return schema };
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut md = f.metadata().clone();
            if i == d {
                md.insert(meta::DESIGNATED_TIMESTAMP.into(), "true".into());
            } else {
                md.remove(meta::DESIGNATED_TIMESTAMP);
            }
            f.as_ref().clone().with_metadata(md)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn append(t: &mut Table, batch: RecordBatch) -> Result<()> {
    // Schema evolution: add columns the table lacks.
    let new_fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .filter(|f| t.schema.index_of(f.name()).is_err())
        .map(|f| {
            let mut md = f.metadata().clone();
            md.remove(meta::DESIGNATED_TIMESTAMP);
            f.as_ref().clone().with_metadata(md)
        })
        .collect();
    if !new_fields.is_empty() {
        let mut fields: Vec<Field> = t
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(new_fields);
        let schema = Arc::new(Schema::new(fields));
        t.batches = t
            .batches
            .iter()
            .map(|b| conform(b, &schema))
            .collect::<Result<_>>()?;
        t.schema = schema;
    }
    let batch = conform(&batch, &t.schema)?;
    if batch.num_rows() == 0 {
        return Ok(());
    }
    match t.designated {
        Some(d) => {
            let ts = ts_values(batch.column(d));
            let sorted = ts.windows(2).all(|w| w[0] <= w[1]);
            let after = t
                .last_ts()
                .is_none_or(|last| ts.first().is_none_or(|&f| f >= last));
            if sorted && after {
                t.batches.push(batch);
            } else {
                // Out of order: merge everything and re-sort (stable).
                t.batches.push(batch);
                let all = concat_batches(&t.schema, &t.batches)
                    .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))?;
                let idx = sort_to_indices(all.column(d), None, None)
                    .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))?;
                let cols = all
                    .columns()
                    .iter()
                    .map(|c| take(c.as_ref(), &idx, None))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))?;
                let sorted = RecordBatch::try_new(t.schema.clone(), cols)
                    .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))?;
                t.batches = vec![sorted];
            }
        }
        None => t.batches.push(batch),
    }
    Ok(())
}

fn table_path(dir: &Path, name: &str) -> PathBuf {
    // Table names may hold characters that are awkward in file names.
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '~'
            }
        })
        .collect();
    dir.join(format!("{safe}.parquet"))
}

const TABLE_NAME_KEY: &str = "questdb.table_name";

fn save_table(dir: &Path, t: &Table) -> Result<()> {
    let path = table_path(dir, &t.name);
    let tmp = path.with_extension("parquet.tmp");
    let mut md = t.schema.metadata().clone();
    md.insert(TABLE_NAME_KEY.into(), t.name.clone());
    md.insert("questdb.txn".into(), t.txn.to_string());
    let schema = Arc::new(Schema::new_with_metadata(t.schema.fields().clone(), md));
    {
        let file = std::fs::File::create(&tmp)?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        for b in &t.batches {
            let b = RecordBatch::try_new(schema.clone(), b.columns().to_vec())
                .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))?;
            w.write(&b)
                .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        }
        w.close()
            .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

fn load_table(path: &Path) -> Result<Table> {
    let io = |e: parquet::errors::ParquetError| {
        Error::new(ErrorKind::Io, format!("{}: {e}", path.display()))
    };
    let file = std::fs::File::open(path)?;
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(io)?;
    let schema = builder.schema().clone();
    let name = schema
        .metadata()
        .get(TABLE_NAME_KEY)
        .cloned()
        .unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let txn = schema
        .metadata()
        .get("questdb.txn")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let reader = builder.build().map_err(io)?;
    let mut batches = Vec::new();
    for b in reader {
        batches.push(b.map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?);
    }
    let fields = schema.fields().clone();
    let designated = fields.iter().position(|f| {
        f.metadata()
            .get(meta::DESIGNATED_TIMESTAMP)
            .is_some_and(|v| v == "true")
    });
    let schema = Arc::new(Schema::new(fields));
    let batches = batches
        .iter()
        .map(|b| conform(b, &schema))
        .collect::<Result<Vec<_>>>()?;
    Ok(Table {
        name,
        schema,
        batches,
        designated,
        txn,
    })
}
