//! The background checkpoint ("compaction") thread of a catalogue on
//! disk: tables written into Parquet parts and a new manifest, the log
//! trimmed behind them, and the backlog bound that holds commits back
//! when it falls behind.

use super::*;

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
    pub(super) fn fsync(&self, h: &SyncHandle) -> Result<()> {
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
pub(super) const MAX_BACKLOG_CHECKPOINTS: u64 = 4;

impl Inner {
    /// Holds a commit back (no lock held) while the log has more than
    /// [`Disk::max_backlog`] bytes not yet checkpointed, until the
    /// checkpoint thread catches up (or fails: the commit is then refused).
    pub(super) fn wait_for_backlog(&self, d: &Disk) {
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

    pub(super) fn compact_loop(&self) {
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
    pub(super) fn checkpoint(&self) -> Result<()> {
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

    pub(super) fn write_checkpoint(&self) -> Result<()> {
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
