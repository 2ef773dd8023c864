//! The catalogue: every table, the one path by which they change
//! (validate, log, apply), and their persistence (write-ahead log +
//! Parquet checkpoints).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, SchemaRef};

use super::checkpoint::{
    Manifest, Part, TableEntry, load_newest, read_part, remove_old_manifests, remove_unreferenced,
    write_part,
};
use super::dedup;
use super::storage::{Change, Reject, Table, check_fields, conform, key, mark_designated};
use super::wal::{Op, StorageFaults, SyncHandle, Wal, sync_dir};
use crate::bridge::meta;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::Status;

mod compact;
mod stage;

use stage::{Staged, install, quarantine_check, stage};

/// How a catalogue persists; see [`Catalog::open_with`].
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// Start a checkpoint once this many bytes were logged since the last
    /// one.
    pub checkpoint_bytes: u64,
    /// Also checkpoint once the log has records and nothing changed for
    /// this long (`None`: only by size).
    pub checkpoint_idle: Option<std::time::Duration>,
    /// Test hooks: storage failures injected while a flag is set.
    pub faults: Option<Arc<StorageFaults>>,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            checkpoint_bytes: DEFAULT_CHECKPOINT_BYTES,
            checkpoint_idle: Some(CHECKPOINT_IDLE),
            faults: None,
        }
    }
}

/// Default [`StorageOptions::checkpoint_bytes`]: 512 MiB.
pub const DEFAULT_CHECKPOINT_BYTES: u64 = 512 * 1024 * 1024;
/// Default [`StorageOptions::checkpoint_idle`]: a checkpoint also starts
/// once the log has records and no change came for this long, so bursts of
/// ingest are not slowed by checkpoints, which run in the quiet after them.
pub const CHECKPOINT_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// All tables; shared by every connection.
///
/// In memory by default. With a data directory every change is first
/// appended to a checksummed write-ahead log (`wal/`), then applied in
/// memory, then acknowledged; so an acknowledged commit survives the
/// process being killed. [`Catalog::sync`] fsyncs the log, which is what a
/// durable acknowledgement waits for: only then does a commit survive a
/// power loss. A background thread checkpoints the tables into Parquet part
/// files (only what was added since the previous checkpoint, so a commit
/// costs what it adds) listed with their checksums in a manifest, and then
/// drops the log segments no longer needed. At start the newest intact
/// manifest is loaded and the log is replayed past it; a torn or corrupt
/// log tail is cut off with a warning; a table whose part fails its
/// checksum is quarantined (queries and writes naming it get an error, the
/// other tables are served) until it is dropped.
pub struct Catalog {
    inner: Arc<Inner>,
    compactor: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("data_dir", &self.inner.disk.as_ref().map(|d| &d.dir))
            .finish()
    }
}

#[derive(Default)]
struct State {
    tables: HashMap<String, Table>,
    /// Tables that failed their checks at load: key → (entry, reason).
    quarantined: HashMap<String, (TableEntry, String)>,
    next_id: u64,
}

struct Inner {
    state: RwLock<State>,
    /// Held by the one change in progress from staging to installing (and
    /// by a checkpoint while it takes its snapshot), so readers of `state`
    /// wait only for the install, not for the log write.
    changing: Mutex<()>,
    disk: Option<Disk>,
    stop: AtomicBool,
    nudge: (Mutex<bool>, Condvar),
}

struct Disk {
    dir: PathBuf,
    wal: Mutex<Wal>,
    ckpt: Mutex<Checkpoints>,
    opts: StorageOptions,
    warnings: Mutex<Vec<String>>,
    /// The last checkpoint failure; commits are refused while it stands.
    failed: Mutex<Option<String>>,
    /// When the last change was logged.
    last_change: Mutex<std::time::Instant>,
    /// Signalled when a checkpoint ends, for commits waiting on the log's
    /// backlog.
    drained: (Mutex<()>, Condvar),
}

struct Checkpoints {
    current: Manifest,
    previous: Option<Manifest>,
    /// Table id → its parts in the current manifest, each with the batches
    /// it holds (the same arrays as the table's, so a checkpoint can tell
    /// which leading parts the table still has unchanged).
    persisted: HashMap<u64, Vec<Persisted>>,
}

/// One part file and the batches written into it.
#[derive(Clone)]
struct Persisted {
    part: Part,
    batches: Vec<RecordBatch>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn write_error(what: &str, e: impl std::fmt::Display) -> Reject {
    Reject::new(Status::WriteError, format!("{what}: {e}"))
}

impl Catalog {
    /// An in-memory catalogue, persisting to `data_dir` when given (and
    /// recovering what is there), with default [`StorageOptions`].
    pub fn open(data_dir: Option<PathBuf>) -> Result<Catalog> {
        Catalog::open_with(data_dir, StorageOptions::default())
    }

    /// Like [`Catalog::open`] with explicit options.
    pub fn open_with(data_dir: Option<PathBuf>, opts: StorageOptions) -> Result<Catalog> {
        let Some(dir) = data_dir else {
            return Ok(Catalog {
                inner: Arc::new(Inner {
                    state: RwLock::new(State::default()),
                    changing: Mutex::new(()),
                    disk: None,
                    stop: AtomicBool::new(false),
                    nudge: (Mutex::new(false), Condvar::new()),
                }),
                compactor: None,
            });
        };
        let open_err = |e: Error| e.context(format!("data directory {}", dir.display()));
        std::fs::create_dir_all(dir.join("tables")).map_err(|e| open_err(e.into()))?;
        let (manifest, mut warnings) = load_newest(&dir).map_err(open_err)?;
        if manifest.is_none() {
            // Tables saved by versions before the write-ahead log were
            // `<name>.parquet` files in the directory itself: say so rather
            // than silently starting empty.
            let legacy: Vec<String> = std::fs::read_dir(&dir)
                .map_err(|e| open_err(e.into()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .map(|p| p.display().to_string())
                .collect();
            if !legacy.is_empty() {
                warnings.push(format!(
                    "not loaded (written by an older version without a manifest; load them with `questdb-arrow load`): {}",
                    legacy.join(", ")
                ));
            }
        }
        let manifest = manifest.unwrap_or_default();
        let mut st = State {
            next_id: manifest.next_id,
            ..State::default()
        };
        let mut persisted = HashMap::new();
        let tables_dir = dir.join("tables");
        for entry in &manifest.tables {
            match load_entry(&tables_dir, entry) {
                Ok((t, parts)) => {
                    persisted.insert(t.id, parts);
                    st.tables.insert(key(&t.name), t);
                }
                Err(e) => {
                    let why = e.to_string();
                    warnings.push(format!("table {} quarantined: {why}", entry.name));
                    st.quarantined
                        .insert(key(&entry.name), (entry.clone(), why));
                }
            }
        }
        let recovered = Wal::open(
            &dir.join("wal"),
            manifest.lsn,
            opts.faults.clone(),
            &mut |_, op| {
                // Records for a quarantined table cannot be applied; the
                // rest of the record (other tables) still is.
                let op = match op {
                    Op::Commit(w) => Op::Commit(
                        w.into_iter()
                            .filter(|(n, _, _)| !st.quarantined.contains_key(&key(n)))
                            .collect(),
                    ),
                    other => other,
                };
                let staged =
                    stage(&st, &op).map_err(|r| Error::new(ErrorKind::InvalidData, r.message))?;
                install(&mut st, staged);
                Ok(())
            },
        )
        .map_err(open_err)?;
        warnings.extend(recovered.warnings);
        for w in &warnings {
            eprintln!("questdb-arrow server: {w}");
        }
        let inner = Arc::new(Inner {
            state: RwLock::new(st),
            changing: Mutex::new(()),
            disk: Some(Disk {
                dir,
                wal: Mutex::new(recovered.wal),
                ckpt: Mutex::new(Checkpoints {
                    current: manifest,
                    previous: None,
                    persisted,
                }),
                opts,
                warnings: Mutex::new(warnings),
                failed: Mutex::new(None),
                last_change: Mutex::new(std::time::Instant::now()),
                drained: (Mutex::new(()), Condvar::new()),
            }),
            stop: AtomicBool::new(false),
            nudge: (Mutex::new(false), Condvar::new()),
        });
        let i2 = inner.clone();
        let compactor = std::thread::Builder::new()
            .name("qa-server-checkpoint".into())
            .spawn(move || i2.compact_loop())?;
        Ok(Catalog {
            inner,
            compactor: Some(compactor),
        })
    }

    /// A snapshot of every table (cheap: batches are reference-counted).
    pub fn snapshot(&self) -> Vec<Table> {
        self.inner.read().tables.values().cloned().collect()
    }

    /// One table's snapshot.
    pub fn table(&self, name: &str) -> Option<Table> {
        self.inner.read().tables.get(&key(name)).cloned()
    }

    /// `name`'s stored name, schema and designated column index, if the
    /// table exists (without cloning its rows).
    pub fn schema_of(&self, name: &str) -> Option<(String, SchemaRef, Option<usize>)> {
        let st = self.inner.read();
        let t = st.tables.get(&key(name))?;
        Some((t.name.clone(), t.schema.clone(), t.designated))
    }

    /// The name of `name`'s designated timestamp column, if the table
    /// exists and has one (without cloning the table).
    pub fn designated_name(&self, name: &str) -> Option<String> {
        let st = self.inner.read();
        let t = st.tables.get(&key(name))?;
        t.designated.map(|d| t.schema.field(d).name().clone())
    }

    /// Quarantined tables with the reason: `(name, reason)`.
    pub fn quarantined(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .inner
            .read()
            .quarantined
            .values()
            .map(|(e, why)| (e.name.clone(), why.clone()))
            .collect();
        v.sort();
        v
    }

    /// Why `name` is quarantined, if it is.
    pub fn quarantine_reason(&self, name: &str) -> Option<String> {
        self.inner
            .read()
            .quarantined
            .get(&key(name))
            .map(|(_, why)| why.clone())
    }

    /// Whether writes go to a write-ahead log on disk (the catalogue has a
    /// data directory).
    pub fn persistent(&self) -> bool {
        self.inner.disk.is_some()
    }

    /// What recovery and checkpoints reported (torn log tails, damaged
    /// manifests, quarantined tables, failed checkpoints).
    pub fn warnings(&self) -> Vec<String> {
        self.inner
            .disk
            .as_ref()
            .map(|d| lock(&d.warnings).clone())
            .unwrap_or_default()
    }

    /// Checks that `fields` fit table `name` (no type conflicts).
    pub fn check(&self, name: &str, fields: &[Arc<Field>]) -> std::result::Result<(), Reject> {
        let g = self.inner.read();
        quarantine_check(&g, name)?;
        let Some(t) = g.tables.get(&key(name)) else {
            return Ok(());
        };
        check_fields(&t.name, &t.schema, fields)
    }

    /// Creates an empty table; `Err` if it exists (unless `if_not_exists`).
    pub fn create(
        &self,
        name: &str,
        schema: SchemaRef,
        designated: Option<usize>,
        if_not_exists: bool,
    ) -> std::result::Result<(), Reject> {
        self.inner
            .apply(Op::Create {
                name: name.to_string(),
                schema,
                designated,
                if_not_exists,
            })
            .map(|_| ())
    }

    /// Drops a table (a quarantined one too); returns whether it existed.
    pub fn drop_table(&self, name: &str) -> std::result::Result<bool, Reject> {
        let existed = {
            let g = self.inner.read();
            g.tables.contains_key(&key(name)) || g.quarantined.contains_key(&key(name))
        };
        self.inner.apply(Op::Drop(name.to_string()))?;
        Ok(existed)
    }

    /// Sets the table's `DEDUP UPSERT KEYS` (column names; the designated
    /// timestamp must be one of them), or turns dedup off when `keys` is
    /// empty. Logged like any change, so it survives a restart; rows
    /// already stored are left as they are.
    pub fn set_dedup(&self, name: &str, keys: Vec<String>) -> std::result::Result<(), Reject> {
        self.inner
            .apply(Op::Dedup {
                name: name.to_string(),
                keys,
            })
            .map(|_| ())
    }

    /// Removes every row of a table; returns whether it existed.
    pub fn truncate(&self, name: &str) -> std::result::Result<bool, Reject> {
        let existed = self.inner.read().tables.contains_key(&key(name));
        self.inner.apply(Op::Truncate(name.to_string()))?;
        Ok(existed)
    }

    /// Appends batches to tables atomically per call: creates missing
    /// tables, adds new columns, rejects type conflicts, keeps designated-
    /// timestamp order. `designated` names the designated column of new
    /// tables. Returns `(table, seqTxn)` per table touched. With a data
    /// directory the commit is in the write-ahead log (written, not yet
    /// fsynced) when this returns `Ok`; a failed log write is a
    /// `WRITE_ERROR` and changes nothing.
    pub fn commit(
        &self,
        writes: Vec<(String, RecordBatch, Option<String>)>,
    ) -> std::result::Result<Vec<(String, i64)>, Reject> {
        self.inner.apply(Op::Commit(writes))
    }

    /// Makes every logged change durable (fsyncs the write-ahead log); a
    /// no-op in memory. An fsync failure is a `WRITE_ERROR`, and the log
    /// refuses later writes (what reached the disk is unknowable).
    pub fn sync(&self) -> std::result::Result<(), Reject> {
        let Some(d) = &self.inner.disk else {
            return Ok(());
        };
        let handle = lock(&d.wal)
            .sync_handle()
            .map_err(|e| write_error("write-ahead log", e))?;
        d.fsync(&handle)
            .map_err(|e| write_error("write-ahead log", e))
    }

    /// Writes a checkpoint now (the background thread does so on its own
    /// every [`StorageOptions::checkpoint_bytes`] of log); a no-op in memory.
    pub fn checkpoint(&self) -> Result<()> {
        self.inner.checkpoint()
    }
}

impl Drop for Catalog {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.nudge.1.notify_all();
        if let Some(h) = self.compactor.take() {
            let _ = h.join();
        }
    }
}

fn load_entry(tables_dir: &Path, e: &TableEntry) -> Result<(Table, Vec<Persisted>)> {
    let mut batches = Vec::new();
    let mut parts = Vec::with_capacity(e.parts.len());
    for p in &e.parts {
        let from = batches.len();
        for b in read_part(tables_dir, p)? {
            batches.push(conform(&b, &e.schema)?);
        }
        parts.push(Persisted {
            part: p.clone(),
            batches: batches[from..].to_vec(),
        });
    }
    let designated = e.schema.fields().iter().position(|f| {
        f.metadata()
            .get(meta::DESIGNATED_TIMESTAMP)
            .is_some_and(|v| v == "true")
    });
    let t = Table {
        name: e.name.clone(),
        schema: e.schema.clone(),
        batches,
        designated,
        txn: e.txn,
        id: e.id,
    };
    Ok((t, parts))
}

impl Inner {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Validate, log, apply: the one path of every change. Changes are
    /// serialised by `changing`; the state is only read while a change is
    /// staged and logged (queries, and the next frame's decoding, go on
    /// during the log write) and write-locked for the install.
    fn apply(&self, op: Op) -> std::result::Result<Vec<(String, i64)>, Reject> {
        if let Some(d) = &self.disk {
            self.wait_for_backlog(d);
        }
        let _one = lock(&self.changing);
        let staged = stage(&self.read(), &op)?;
        if matches!(staged, Staged::Nothing) {
            return Ok(Vec::new());
        }
        if let Some(d) = &self.disk {
            if let Some(why) = lock(&d.failed).as_ref() {
                return Err(write_error("storage", why));
            }
            let mut wal = lock(&d.wal);
            wal.append(&op)
                .map_err(|e| write_error("could not log the change", e))?;
            *lock(&d.last_change) = std::time::Instant::now();
            if wal.since_rotation() >= d.opts.checkpoint_bytes {
                *lock(&self.nudge.0) = true;
                self.nudge.1.notify_one();
            }
        }
        Ok(install(&mut self.write(), staged))
    }
}
