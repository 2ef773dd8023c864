//! Staging a change: what an operation does to the tables, computed and
//! validated before anything is logged, then installed.

use super::*;

/// One table a commit writes: its key, the table itself when the commit
/// creates it, and the change.
type TableWrite = (String, Option<Table>, Change);

/// What an operation changes, computed before anything is logged.
pub(super) enum Staged {
    Commit(Vec<TableWrite>),
    Create(Table),
    Drop(String),
    Truncate(String),
    /// `ALTER TABLE … DEDUP`: the table's new schema and batches.
    Alter(String, SchemaRef, Vec<RecordBatch>),
    Nothing,
}

pub(super) fn quarantine_check(st: &State, name: &str) -> std::result::Result<(), Reject> {
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
pub(super) fn stage(st: &State, op: &Op) -> std::result::Result<Staged, Reject> {
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
pub(super) fn install(st: &mut State, staged: Staged) -> Vec<(String, i64)> {
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
