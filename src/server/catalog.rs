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

/// Whether `table` is `part` (same rows, same arrays), allowing columns
/// added to the table since.
fn unchanged(part: &RecordBatch, table: &RecordBatch) -> bool {
    part.num_rows() == table.num_rows()
        && part.num_columns() <= table.num_columns()
        && part
            .columns()
            .iter()
            .zip(table.columns())
            .all(|(a, b)| Arc::ptr_eq(a, b))
}

impl Disk {
    /// fsyncs a log segment; a failure poisons the log, since what reached
    /// the disk is then unknowable.
    fn fsync(&self, h: &SyncHandle) -> Result<()> {
        h.sync().map_err(|e| {
            let why = format!("fsync failed: {e}");
            lock(&self.wal).poison(why.clone());
            Error::new(ErrorKind::Io, why)
        })
    }

    /// The most log a restart may have to replay before commits wait for
    /// the checkpoint thread (which runs at the lowest CPU priority, so a
    /// burst of ingest is not slowed by it, but cannot outrun it forever).
    fn max_backlog(&self) -> u64 {
        self.opts
            .checkpoint_bytes
            .saturating_mul(MAX_BACKLOG_CHECKPOINTS)
    }
}

/// Gives the calling thread the lowest CPU priority (nice 19): it runs
/// when the cores are otherwise idle. A no-op outside Linux.
#[cfg(target_os = "linux")]
fn lower_priority() -> std::io::Result<()> {
    // On Linux, PRIO_PROCESS with a thread id sets that thread's nice value.
    rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19)
        .map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() -> std::io::Result<()> {
    Ok(())
}

/// A commit logged this recently means the foreground is busy: checkpoint
/// part files then take only a share of the disk (see `direct::PacedFile`).
const PACE_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

/// See [`Disk::max_backlog`].
const MAX_BACKLOG_CHECKPOINTS: u64 = 4;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn write_error(what: &str, e: impl std::fmt::Display) -> Reject {
    Reject::new(Status::WriteError, format!("{what}: {e}"))
}

/// One table a commit writes: its key, the table itself when the commit
/// creates it, and the change.
type TableWrite = (String, Option<Table>, Change);

/// What an operation changes, computed before anything is logged.
enum Staged {
    Commit(Vec<TableWrite>),
    Create(Table),
    Drop(String),
    Truncate(String),
    /// `ALTER TABLE … DEDUP`: the table's new schema and batches.
    Alter(String, SchemaRef, Vec<RecordBatch>),
    Nothing,
}

fn quarantine_check(st: &State, name: &str) -> std::result::Result<(), Reject> {
    match st.quarantined.get(&key(name)) {
        Some((_, why)) => Err(quarantine_reject(name, why)),
        None => Ok(()),
    }
}

fn quarantine_reject(name: &str, why: &str) -> Reject {
    Reject::new(
        Status::WriteError,
        format!("table {name} is quarantined ({why}); DROP TABLE {name} to discard it"),
    )
}

/// Validates `op` against `st` and computes its effect; changes nothing.
fn stage(st: &State, op: &Op) -> std::result::Result<Staged, Reject> {
    match op {
        Op::Commit(writes) => {
            let mut out: Vec<TableWrite> = Vec::new();
            for (name, batch, designated) in writes {
                quarantine_check(st, name)?;
                let k = key(name);
                let pos = match out.iter().position(|(x, _, _)| *x == k) {
                    Some(p) => p,
                    None => {
                        let (new, change) = match st.tables.get(&k) {
                            Some(t) => (None, Change::of(t)),
                            None => {
                                let d = designated
                                    .as_deref()
                                    .and_then(|d| batch.schema().index_of(d).ok());
                                let schema = mark_designated(batch.schema(), d);
                                let mut t = Table::new(name, schema, d);
                                t.id = st.next_id + out.len() as u64;
                                let change = Change::of(&t);
                                (Some(t), change)
                            }
                        };
                        out.push((k, new, change));
                        out.len() - 1
                    }
                };
                let (k, new, change) = &mut out[pos];
                let table = match new {
                    Some(t) => &*t,
                    None => st.tables.get(k.as_str()).ok_or_else(|| {
                        Reject::new(Status::InternalError, format!("table {name} vanished"))
                    })?,
                };
                check_fields(&table.name, &change.schema, batch.schema().fields())?;
                change
                    .append(&table.batches, batch.clone())
                    .map_err(|e| Reject::new(Status::InternalError, e.to_string()))?;
            }
            Ok(Staged::Commit(out))
        }
        Op::Create {
            name,
            schema,
            designated,
            if_not_exists,
        } => {
            quarantine_check(st, name)?;
            if st.tables.contains_key(&key(name)) {
                if *if_not_exists {
                    return Ok(Staged::Nothing);
                }
                return Err(Reject::new(
                    Status::ParseError,
                    format!("table already exists: {name}"),
                ));
            }
            let keys = dedup::keys_of(schema);
            if !keys.is_empty() && !designated.is_some_and(|d| keys.contains(&d)) {
                return Err(Reject::new(
                    Status::ParseError,
                    format!(
                        "deduplicate key list must include dedicated timestamp column [table={name}]"
                    ),
                ));
            }
            let mut t = Table::new(name, schema.clone(), *designated);
            t.id = st.next_id;
            Ok(Staged::Create(t))
        }
        Op::Drop(name) => {
            let k = key(name);
            if st.tables.contains_key(&k) || st.quarantined.contains_key(&k) {
                Ok(Staged::Drop(k))
            } else {
                Ok(Staged::Nothing)
            }
        }
        Op::Dedup { name, keys } => {
            quarantine_check(st, name)?;
            let t = st.tables.get(&key(name)).ok_or_else(|| {
                Reject::new(
                    Status::ParseError,
                    format!("table does not exist [table={name}]"),
                )
            })?;
            let (schema, batches) = dedup::altered(t, keys)?;
            Ok(Staged::Alter(key(name), schema, batches))
        }
        Op::Truncate(name) => {
            quarantine_check(st, name)?;
            let k = key(name);
            if st.tables.contains_key(&k) {
                Ok(Staged::Truncate(k))
            } else {
                Ok(Staged::Nothing)
            }
        }
    }
}

/// Applies a staged change; returns `(table, seqTxn)` for commits.
fn install(st: &mut State, staged: Staged) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    match staged {
        Staged::Commit(tables) => {
            for (k, new, change) in tables {
                if let Some(t) = new {
                    st.next_id = st.next_id.max(t.id + 1);
                    st.tables.insert(k.clone(), t);
                }
                // Staged against this state, so the table is there.
                if let Some(t) = st.tables.get_mut(&k) {
                    change.apply(t);
                    t.txn += 1;
                    out.push((t.name.clone(), t.txn));
                }
            }
        }
        Staged::Create(t) => {
            st.next_id = st.next_id.max(t.id + 1);
            st.tables.insert(key(&t.name), t);
        }
        Staged::Drop(k) => {
            st.tables.remove(&k);
            st.quarantined.remove(&k);
        }
        Staged::Truncate(k) => {
            if let Some(t) = st.tables.get_mut(&k) {
                t.batches.clear();
                t.txn += 1;
            }
        }
        Staged::Alter(k, schema, batches) => {
            if let Some(t) = st.tables.get_mut(&k) {
                t.schema = schema;
                t.batches = batches;
            }
        }
        Staged::Nothing => {}
    }
    out
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

    /// Holds a commit back (no lock held) while the log has more than
    /// [`Disk::max_backlog`] bytes not yet checkpointed, until the
    /// checkpoint thread catches up (or fails: the commit is then refused).
    fn wait_for_backlog(&self, d: &Disk) {
        let max = d.max_backlog();
        while lock(&d.wal).backlog() >= max
            && lock(&d.failed).is_none()
            && !self.stop.load(Ordering::SeqCst)
        {
            *lock(&self.nudge.0) = true;
            self.nudge.1.notify_one();
            let g = lock(&d.drained.0);
            let _ = d
                .drained
                .1
                .wait_timeout(g, std::time::Duration::from_millis(100));
        }
    }

    fn compact_loop(&self) {
        let Some(d) = &self.disk else { return };
        // Checkpoints yield the CPU to everything else (ingest above all);
        // the backlog bound keeps them from falling behind for good.
        if let Err(e) = lower_priority() {
            lock(&d.warnings).push(format!(
                "could not lower the checkpoint thread's priority: {e}"
            ));
        }
        while !self.stop.load(Ordering::SeqCst) {
            {
                let mut due = lock(&self.nudge.0);
                if !*due {
                    due = self
                        .nudge
                        .1
                        .wait_timeout(due, std::time::Duration::from_millis(500))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
                *due = false;
            }
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let logged = lock(&d.wal).since_rotation();
            let big = logged >= d.opts.checkpoint_bytes;
            let quiet = logged > 0
                && d.opts
                    .checkpoint_idle
                    .is_some_and(|idle| lock(&d.last_change).elapsed() >= idle);
            let failing = lock(&d.failed).is_some();
            if (big || quiet || failing) && self.checkpoint().is_err() {
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        }
    }

    /// Writes a checkpoint; while checkpoints fail, commits are refused (so
    /// the log cannot grow without bound) and the background thread retries.
    fn checkpoint(&self) -> Result<()> {
        let Some(d) = &self.disk else { return Ok(()) };
        match self.write_checkpoint() {
            Ok(()) => {
                *lock(&d.failed) = None;
                Ok(())
            }
            Err(e) => {
                let why = format!("checkpoint failed: {e}");
                eprintln!("questdb-arrow server: {why}");
                // Refuse commits before the warning is visible.
                *lock(&d.failed) = Some(why.clone());
                lock(&d.warnings).push(why);
                d.drained.1.notify_all();
                Err(e)
            }
        }
    }

    fn write_checkpoint(&self) -> Result<()> {
        let Some(d) = &self.disk else { return Ok(()) };
        while StorageFaults::on(&d.opts.faults, |f| &f.hold_checkpoints)
            && !self.stop.load(Ordering::SeqCst)
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut ck = lock(&d.ckpt);
        let (tables, quarantined, next_id, (lsn, old)) = {
            // No change between its log record and its install: the
            // snapshot holds exactly the records up to `lsn`.
            let _one = lock(&self.changing);
            let st = self.read();
            let mut wal = lock(&d.wal);
            if wal.last_lsn() == ck.current.lsn && ck.current.generation > 0 {
                return Ok(());
            }
            let (lsn, old) = wal.rotate()?;
            let mut tables: Vec<Table> = st.tables.values().cloned().collect();
            tables.sort_by_key(|t| t.id);
            let q: Vec<TableEntry> = st.quarantined.values().map(|(e, _)| e.clone()).collect();
            (tables, q, st.next_id, (lsn, old))
        };
        // The rotated segment must be on disk before a manifest relies on
        // it (the previous manifest replays it if the new one is damaged);
        // fsynced without any lock held, so commits go on meanwhile.
        d.fsync(&old)?;
        if StorageFaults::on(&d.opts.faults, |f| &f.checkpoints) {
            return Err(Error::new(ErrorKind::Io, "injected checkpoint failure"));
        }
        let tables_dir = d.dir.join("tables");
        // Part files yield the disk to the log while commits are arriving,
        // unless the backlog says the checkpoint must catch up.
        let busy = || {
            lock(&d.last_change).elapsed() < PACE_WINDOW
                && lock(&d.wal).backlog() < d.max_backlog() / 2
        };
        let mut entries = Vec::with_capacity(tables.len() + quarantined.len());
        let mut persisted = HashMap::new();
        for t in &tables {
            // Keep the leading parts the table still holds unchanged (an
            // out-of-order commit rewrites only the tail it overlaps), then
            // write what follows into one new part.
            let mut parts: Vec<Persisted> = Vec::new();
            let mut pos = 0;
            for p in ck.persisted.get(&t.id).into_iter().flatten() {
                let end = pos + p.batches.len();
                let same = end <= t.batches.len()
                    && p.batches
                        .iter()
                        .zip(&t.batches[pos..end])
                        .all(|(a, b)| unchanged(a, b));
                if !same {
                    break;
                }
                parts.push(p.clone());
                pos = end;
            }
            let new = &t.batches[pos..];
            if new.iter().any(|b| b.num_rows() > 0) {
                parts.push(Persisted {
                    part: write_part(&tables_dir, &t.name, t.id, lsn, &t.schema, new, &busy)?,
                    batches: new.to_vec(),
                });
            }
            entries.push(TableEntry {
                id: t.id,
                name: t.name.clone(),
                txn: t.txn,
                schema: t.schema.clone(),
                parts: parts.iter().map(|p| p.part.clone()).collect(),
            });
            persisted.insert(t.id, parts);
        }
        entries.extend(quarantined);
        sync_dir(&tables_dir)?;
        let m = Manifest {
            generation: ck.current.generation + 1,
            lsn,
            next_id,
            tables: entries,
        };
        m.store(&d.dir)?;
        lock(&d.wal).checkpointed();
        d.drained.1.notify_all();
        let prev = std::mem::replace(&mut ck.current, m);
        ck.persisted = persisted;
        // Keep this checkpoint and the one before it (the fallback if the
        // newest manifest is ever damaged), with the log needed to replay
        // from the older one.
        let keep_from = prev.generation;
        let keep_lsn = prev.lsn;
        ck.previous = Some(prev);
        let mut keep = vec![&ck.current];
        if let Some(p) = &ck.previous {
            keep.push(p);
        }
        remove_old_manifests(&d.dir, keep_from)?;
        remove_unreferenced(&tables_dir, &keep)?;
        Wal::remove_upto(&d.dir.join("wal"), keep_lsn)?;
        Ok(())
    }
}
