//! SQL for the embedded server: QuestDB-style DDL/DML handled here
//! (CREATE TABLE with `TIMESTAMP(col)` and `DEDUP UPSERT KEYS(…)`, ALTER
//! TABLE … DEDUP, DROP, TRUNCATE, INSERT), everything
//! else planned and run by DataFusion over snapshots of the tables.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ParamValues;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use futures::StreamExt;

use super::dedup;
use super::scan::{self, Source};
use super::storage::{Reject, Table, mark_designated};
use super::{Shared, limits, panic_text};
use crate::bridge::types::{QwpType, arrow_field};
use crate::protocol::{ColumnData, ColumnType, Status, Values};

/// What a statement produced.
pub(crate) enum Outcome {
    /// A result set, streamed.
    Rows(Source),
    /// A statement without a result set, with rows affected.
    Done(u64),
}

fn parse_err(msg: impl Into<String>) -> Reject {
    Reject::new(Status::ParseError, msg)
}

fn df_err(e: DataFusionError) -> Reject {
    let status = match e.find_root() {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_) => Status::ParseError,
        _ => Status::InternalError,
    };
    Reject::new(status, e.to_string())
}

/// Runs `fut` on the server's runtime; a panic in it (DataFusion's, or a
/// spawned task's that DataFusion resumes here) becomes INTERNAL_ERROR.
fn on_runtime<F: Future>(shared: &Shared, fut: F) -> Result<F::Output, Reject> {
    std::panic::catch_unwind(AssertUnwindSafe(|| shared.runtime.block_on(fut))).map_err(|p| {
        Reject::new(
            Status::InternalError,
            format!("query execution panicked: {}", panic_text(p.as_ref())),
        )
    })
}

/// Splits leading words (lowercased) off a statement.
fn words(sql: &str) -> Vec<String> {
    sql.split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(6)
        .map(|w| w.to_ascii_lowercase())
        .collect()
}

fn strip_comments(sql: &str) -> String {
    sql.lines()
        .map(|l| match l.find("--") {
            Some(i) if !l[..i].contains('\'') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A session over snapshots of every table.
fn session(shared: &Shared) -> Result<SessionContext, Reject> {
    let cfg = SessionConfig::new()
        // One partition keeps rows in stored (designated-timestamp) order,
        // as QuestDB returns them.
        .with_target_partitions(1)
        .with_batch_size(shared.cfg.max_batch_rows.max(1024));
    let ctx = SessionContext::new_with_config(cfg);
    if shared.cfg.faults.panic_udf {
        ctx.register_udf(panic_udf());
    }
    let tables = shared.catalog.snapshot();
    for t in &tables {
        register(&ctx, t)?;
    }
    super::meta::register(&ctx, &tables, shared.catalog.persistent());
    Ok(ctx)
}

/// `qa_panic()`: panics when evaluated (fault injection).
fn panic_udf() -> datafusion::logical_expr::ScalarUDF {
    datafusion::logical_expr::create_udf(
        "qa_panic",
        vec![],
        DataType::Int64,
        datafusion::logical_expr::Volatility::Volatile,
        Arc::new(|_| panic!("injected fault: qa_panic() evaluated")),
    )
}

fn register(ctx: &SessionContext, t: &Table) -> Result<(), Reject> {
    let mem = MemTable::try_new(t.schema.clone(), vec![t.batches.clone()]).map_err(df_err)?;
    ctx.register_table(t.name.to_ascii_lowercase(), Arc::new(mem))
        .map_err(df_err)?;
    Ok(())
}

/// Runs one statement.
pub(crate) fn execute(shared: &Shared, sql: &str, binds: &[ColumnData]) -> Result<Outcome, Reject> {
    limits::check(sql, shared.cfg.max_sql_bytes)?;
    if shared.cfg.faults.panic_on_sql.as_deref() == Some(sql) {
        panic!("injected fault: panic_on_sql");
    }
    let clean = strip_comments(sql);
    let text = clean.trim().trim_end_matches(';').trim();
    let w = words(text);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["create", "table", ..] => create_table(shared, text),
        ["drop", "table", rest @ ..] => {
            let (if_exists, name) = match rest {
                ["if", "exists", name, ..] => (true, *name),
                [name, ..] => (false, *name),
                [] => return Err(parse_err("DROP TABLE needs a table name")),
            };
            let name = unquote(name);
            if !shared.catalog.drop_table(&name)? && !if_exists {
                return Err(parse_err(format!("table does not exist [table={name}]")));
            }
            Ok(Outcome::Done(0))
        }
        ["truncate", "table", name, ..] => {
            let name = unquote(name);
            if !shared.catalog.truncate(&name)? {
                return Err(parse_err(format!("table does not exist [table={name}]")));
            }
            Ok(Outcome::Done(0))
        }
        ["insert", "into", ..] => insert(shared, text, binds),
        ["alter", "table", _, "dedup" | "deduplicate", ..] => alter_dedup(shared, text),
        [] => Err(parse_err("empty statement")),
        _ => {
            refuse_quarantined(shared, text)?;
            if shared.cfg.fast_scan
                && binds.is_empty()
                && let Some(scan) = scan::plan(shared, text)
            {
                shared.fast_scans.fetch_add(1, Ordering::Relaxed);
                return Ok(Outcome::Rows(Source::Scan(scan)));
            }
            let ctx = session(shared)?;
            let df = on_runtime(shared, ctx.sql(text))?.map_err(df_err)?;
            let df = if binds.is_empty() {
                df
            } else {
                df.with_param_values(ParamValues::List(
                    binds.iter().map(scalar_of).map(Into::into).collect(),
                ))
                .map_err(df_err)?
            };
            let stream = on_runtime(shared, df.execute_stream())?.map_err(df_err)?;
            Ok(Outcome::Rows(Source::Plan(stream)))
        }
    }
}

/// A query naming a quarantined table gets an error saying so (instead of
/// "table not found").
fn refuse_quarantined(shared: &Shared, text: &str) -> Result<(), Reject> {
    let low = text.to_lowercase();
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    for (name, why) in shared.catalog.quarantined() {
        let n = name.to_lowercase();
        let named = low.match_indices(&n).any(|(i, _)| {
            !ident(low[..i].chars().next_back()) && !ident(low[i + n.len()..].chars().next())
        });
        if named {
            return Err(Reject::new(
                Status::InternalError,
                format!("table {name} is quarantined ({why}); DROP TABLE {name} to discard it"),
            ));
        }
    }
    Ok(())
}

/// Batches a running query may have ready ahead of the connection thread.
const READY_BATCHES: usize = 2;

/// What waiting on a [`RunningQuery`] gave.
pub(crate) enum Next {
    /// The next batch.
    Batch(RecordBatch),
    /// The query failed.
    Failed(Reject),
    /// The result is complete.
    End,
    /// Nothing within the wait; the query is still running.
    Pending,
}

/// A result stream executing as a task on the server's runtime, handing its
/// batches over a bounded channel, so the connection thread stays free to
/// read CANCEL / CREDIT (and notice a client that went away) while
/// DataFusion computes. At most [`READY_BATCHES`] wait in the channel: a
/// paused consumer (no credit) pauses DataFusion. Dropping it aborts the
/// task, which drops the stream and stops DataFusion's work.
pub(crate) struct RunningQuery {
    rx: tokio::sync::mpsc::Receiver<Result<RecordBatch, Reject>>,
    task: tokio::task::JoinHandle<()>,
    runtime: tokio::runtime::Handle,
    ended: bool,
}

impl RunningQuery {
    /// Starts pulling `stream` on the server's runtime.
    pub(crate) fn spawn(shared: &Shared, mut stream: SendableRecordBatchStream) -> RunningQuery {
        let (tx, rx) = tokio::sync::mpsc::channel(READY_BATCHES);
        let task = shared.runtime.spawn(async move {
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                if tx.send(item.map_err(df_err)).await.is_err() || failed {
                    break;
                }
            }
        });
        RunningQuery {
            rx,
            task,
            runtime: shared.runtime.handle().clone(),
            ended: false,
        }
    }

    /// Waits at most `wait` for the next batch.
    pub(crate) fn next(&mut self, wait: Duration) -> Next {
        if self.ended {
            return Next::End;
        }
        let got = self
            .runtime
            .block_on(async { tokio::time::timeout(wait, self.rx.recv()).await });
        match got {
            Err(_elapsed) => Next::Pending,
            Ok(Some(Ok(b))) => Next::Batch(b),
            Ok(Some(Err(r))) => Next::Failed(r),
            // The task dropped its sender: it ended, or it panicked.
            Ok(None) => {
                self.ended = true;
                match self.runtime.block_on(&mut self.task) {
                    Ok(()) => Next::End,
                    Err(e) => Next::Failed(Reject::new(
                        Status::InternalError,
                        format!("query execution failed: {e}"),
                    )),
                }
            }
        }
    }
}

impl Drop for RunningQuery {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .to_string()
}

/// A bind value as a DataFusion scalar.
fn scalar_of(b: &ColumnData) -> ScalarValue {
    let null = b.nulls.as_ref().is_some_and(|n| n.first() == Some(&true));
    let utc = Some(Arc::from("UTC"));
    macro_rules! first {
        ($v:expr) => {
            if null { None } else { $v.first().copied() }
        };
    }
    match &b.values {
        Values::Boolean(v) => ScalarValue::Boolean(first!(v)),
        Values::Byte(v) => ScalarValue::Int8(first!(v)),
        Values::Short(v) => ScalarValue::Int16(first!(v)),
        Values::Int(v) => ScalarValue::Int32(first!(v)),
        Values::Long(v) => ScalarValue::Int64(first!(v)),
        Values::Float(v) => ScalarValue::Float32(first!(v)),
        Values::Double(v) => ScalarValue::Float64(first!(v)),
        Values::Symbol(v) => ScalarValue::Int64(first!(v).map(i64::from)),
        Values::SymbolDict { dict, ids } => {
            ScalarValue::Utf8(first!(ids).and_then(|i| dict.get(i as usize).cloned()))
        }
        Values::Timestamp(v) => ScalarValue::TimestampMicrosecond(first!(v), utc),
        Values::TimestampNanos(v) => ScalarValue::TimestampNanosecond(first!(v), utc),
        Values::Date(v) => ScalarValue::Date64(first!(v)),
        Values::Uuid(v) => {
            ScalarValue::FixedSizeBinary(16, first!(v).map(|u| u.to_be_bytes().to_vec()))
        }
        Values::Long256(v) => ScalarValue::FixedSizeBinary(32, first!(v).map(|u| u.to_vec())),
        Values::Geohash { values, .. } => ScalarValue::Int64(first!(values).map(|g| g as i64)),
        Values::Varchar(v) => ScalarValue::Utf8(if null { None } else { v.first().cloned() }),
        Values::Binary(v) => ScalarValue::Binary(if null { None } else { v.first().cloned() }),
        Values::DoubleArray(_) | Values::LongArray(_) => ScalarValue::Null,
        Values::Decimal64 { scale, values } => {
            ScalarValue::Decimal128(first!(values).map(i128::from), 18, *scale as i8)
        }
        Values::Decimal128 { scale, values } => {
            ScalarValue::Decimal128(first!(values), 38, *scale as i8)
        }
        Values::Decimal256 { scale, values } => ScalarValue::Decimal256(
            first!(values).map(arrow::datatypes::i256::from_le_bytes),
            76,
            *scale as i8,
        ),
        Values::Char(v) => ScalarValue::UInt16(first!(v)),
        Values::Ipv4(v) => ScalarValue::UInt32(first!(v)),
    }
}

/// Position of the `)` matching the `(` at `open`.
fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    let mut quote = false;
    for (i, c) in s[open..].char_indices() {
        match c {
            '\'' => quote = !quote,
            '(' if !quote => depth += 1,
            ')' if !quote => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out.into_iter().filter(|p| !p.is_empty()).collect()
}

/// The QWP type for a QuestDB type name in DDL.
fn ddl_type(col: &str, spec: &str) -> Result<QwpType, Reject> {
    let s = spec.trim().to_ascii_lowercase();
    let base: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let dims = s.matches("[]").count() as u8;
    let args = s
        .find('(')
        .and_then(|o| s[o..].find(')').map(|c| &s[o + 1..o + c]))
        .unwrap_or("");
    let p = |t| Ok(QwpType::plain(t));
    let t = match base.as_str() {
        "double" | "float8" if dims > 0 => Ok(QwpType {
            array_dims: dims,
            ..QwpType::plain(ColumnType::DoubleArray)
        }),
        "long" | "bigint" if dims > 0 => Ok(QwpType {
            array_dims: dims,
            ..QwpType::plain(ColumnType::LongArray)
        }),
        "boolean" | "bool" => p(ColumnType::Boolean),
        "byte" | "tinyint" => p(ColumnType::Byte),
        "short" | "smallint" => p(ColumnType::Short),
        "char" => p(ColumnType::Char),
        "int" | "integer" => p(ColumnType::Int),
        "long" | "bigint" => p(ColumnType::Long),
        "float" | "real" => p(ColumnType::Float),
        "double" => p(ColumnType::Double),
        "string" | "varchar" | "text" => p(ColumnType::Varchar),
        "symbol" => p(ColumnType::Symbol),
        "timestamp" => p(ColumnType::Timestamp),
        "timestamp_ns" | "timestamp_nanos" => p(ColumnType::TimestampNanos),
        "date" => p(ColumnType::Date),
        "uuid" => p(ColumnType::Uuid),
        "long256" => p(ColumnType::Long256),
        "binary" => p(ColumnType::Binary),
        "ipv4" => p(ColumnType::Ipv4),
        "geohash" => {
            let a = args.trim();
            let (n, unit) = a.split_at(a.len().saturating_sub(1));
            let n: u8 = n
                .parse()
                .map_err(|_| parse_err(format!("column {col}: bad geohash size {a:?}")))?;
            let bits = if unit == "c" { n.saturating_mul(5) } else { n };
            if !(1..=60).contains(&bits) {
                return Err(parse_err(format!(
                    "column {col}: geohash precision {bits} bits outside 1..=60"
                )));
            }
            Ok(QwpType {
                geohash_bits: bits,
                ..QwpType::plain(ColumnType::Geohash)
            })
        }
        "decimal" | "numeric" => {
            let mut it = args.split(',').map(|x| x.trim().parse::<u8>());
            let prec = it.next().and_then(|r| r.ok()).unwrap_or(18);
            let scale = it.next().and_then(|r| r.ok()).unwrap_or(0);
            let ty = if prec <= 18 {
                ColumnType::Decimal64
            } else if prec <= 38 {
                ColumnType::Decimal128
            } else {
                ColumnType::Decimal256
            };
            Ok(QwpType {
                scale,
                ..QwpType::plain(ty)
            })
        }
        other => Err(parse_err(format!("column {col}: unknown type {other:?}"))),
    }?;
    Ok(t)
}

/// Finds `TIMESTAMP(col)` in the clauses after the column list.
fn designated_in(tail: &str) -> Option<String> {
    let low = tail.to_ascii_lowercase();
    let i = low.find("timestamp")?;
    let rest = tail[i + "timestamp".len()..].trim_start();
    let rest = rest.strip_prefix('(')?;
    let end = rest.find(')')?;
    Some(unquote(rest[..end].trim()))
}

fn create_table(shared: &Shared, text: &str) -> Result<Outcome, Reject> {
    let low = text.to_ascii_lowercase();
    let mut pos = low.find("table").map(|i| i + 5).unwrap_or(0);
    let mut if_not_exists = false;
    let after = low[pos..].trim_start();
    if after.starts_with("if not exists") {
        if_not_exists = true;
        pos = low.len() - after.len() + "if not exists".len();
    }
    let rest = text[pos..].trim_start();
    let name_end = rest
        .find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(rest.len());
    let name = unquote(&rest[..name_end]);
    if name.is_empty() {
        return Err(parse_err("CREATE TABLE needs a table name"));
    }
    let body = rest[name_end..].trim_start();
    let body_low = body.to_ascii_lowercase();
    if body_low.starts_with("as") {
        // CREATE TABLE t AS (SELECT ...) [TIMESTAMP(c)] ...
        let open = body
            .find('(')
            .ok_or_else(|| parse_err("CREATE TABLE AS needs a (SELECT ...)"))?;
        let close =
            matching_paren(body, open).ok_or_else(|| parse_err("unbalanced parentheses"))?;
        let query = &body[open + 1..close];
        let designated = designated_in(&body[close + 1..]);
        let ctx = session(shared)?;
        let df = on_runtime(shared, ctx.sql(query))?.map_err(df_err)?;
        let batches = on_runtime(shared, df.collect())?.map_err(df_err)?;
        let schema = batches
            .first()
            .map(|b| b.schema())
            .unwrap_or_else(|| Arc::new(Schema::empty()));
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let d = designated.as_deref().and_then(|d| schema.index_of(d).ok());
        let schema = mark_designated(annotate(&schema), d);
        let schema = with_dedup(&name, schema, d, &body[close + 1..])?;
        shared.catalog.create(&name, schema, d, if_not_exists)?;
        let writes = batches
            .into_iter()
            .map(|b| (name.clone(), b, designated.clone()))
            .collect();
        shared.catalog.commit(writes)?;
        return Ok(Outcome::Done(rows as u64));
    }
    let open = body
        .find('(')
        .ok_or_else(|| parse_err("CREATE TABLE needs a column list"))?;
    let close = matching_paren(body, open).ok_or_else(|| parse_err("unbalanced parentheses"))?;
    let designated = designated_in(&body[close + 1..]);
    let mut fields = Vec::new();
    for def in split_top(&body[open + 1..close]) {
        let (col, spec) = def
            .split_once(char::is_whitespace)
            .ok_or_else(|| parse_err(format!("column definition {def:?} needs a type")))?;
        let col = unquote(col);
        let t = ddl_type(&col, spec)?;
        let is_d = designated.as_deref() == Some(col.as_str());
        fields.push(arrow_field(&col, t, is_d));
    }
    let d = designated
        .as_deref()
        .and_then(|d| fields.iter().position(|f| f.name() == d));
    if designated.is_some() && d.is_none() {
        return Err(parse_err(format!(
            "designated timestamp column {:?} is not in the column list",
            designated.unwrap_or_default()
        )));
    }
    let schema = with_dedup(&name, Arc::new(Schema::new(fields)), d, &body[close + 1..])?;
    shared.catalog.create(&name, schema, d, if_not_exists)?;
    Ok(Outcome::Done(0))
}

/// Tokens of DDL text: words (quoted ones whole, quotes kept), `(`, `)`,
/// `,`.
fn tokens(s: &str) -> Vec<&str> {
    let sep = |c: u8| matches!(c, b'(' | b')' | b',' | b';');
    let quote = |c: u8| matches!(c, b'"' | b'\'' | b'`');
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if sep(c) {
            i += 1;
        } else if quote(c) {
            i = s[i + 1..]
                .find(c as char)
                .map_or(s.len(), |e| i + 1 + e + 1);
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() && !sep(b[i]) && !quote(b[i]) {
                i += 1;
            }
        }
        out.push(&s[start..i]);
    }
    out
}

fn is_word(tok: Option<&&str>, word: &str) -> bool {
    tok.is_some_and(|t| t.eq_ignore_ascii_case(word))
}

/// Parses `UPSERT KEYS(c1, c2, …)` (the tokens after `DEDUP`), with
/// QuestDB's error messages.
fn upsert_keys(toks: &[&str]) -> Result<Vec<String>, Reject> {
    if !is_word(toks.first(), "upsert") {
        return Err(parse_err("expected 'upsert'"));
    }
    if !is_word(toks.get(1), "keys") {
        return Err(parse_err("expected 'keys'"));
    }
    if toks.get(2) != Some(&"(") {
        return Err(parse_err("deduplicate key column list expected"));
    }
    let mut keys = Vec::new();
    let mut rest = toks[3..].iter();
    loop {
        match rest.next() {
            Some(&t) if !matches!(t, "(" | ")" | ",") => keys.push(unquote(t)),
            _ => return Err(parse_err("literal expected")),
        }
        match rest.next() {
            Some(&",") => {}
            Some(&")") => return Ok(keys),
            _ => return Err(parse_err("')' expected")),
        }
    }
}

/// Applies a `DEDUP UPSERT KEYS(…)` clause found in `tail` (the clauses
/// after CREATE TABLE's column list or query) to the new table's schema,
/// with QuestDB's rules: a designated timestamp, a WAL table (partitioned,
/// not `BYPASS WAL`), keys that exist and include the timestamp.
fn with_dedup(
    table: &str,
    schema: SchemaRef,
    designated: Option<usize>,
    tail: &str,
) -> Result<SchemaRef, Reject> {
    let toks = tokens(tail);
    let at = toks.iter().enumerate().position(|(i, t)| {
        (t.eq_ignore_ascii_case("dedup") || t.eq_ignore_ascii_case("deduplicate"))
            && (i == 0 || toks[i - 1] != "(")
    });
    let Some(at) = at else { return Ok(schema) };
    let head = &toks[..at];
    let bypass = head
        .windows(2)
        .any(|w| is_word(Some(&w[0]), "bypass") && is_word(Some(&w[1]), "wal"));
    let partition = head
        .windows(3)
        .find(|w| is_word(Some(&w[0]), "partition") && is_word(Some(&w[1]), "by"))
        .map(|w| w[2].to_ascii_lowercase());
    let keys = upsert_keys(&toks[at + 1..])?;
    if designated.is_some() && (bypass || partition.as_deref().is_none_or(|p| p == "none")) {
        let why = if bypass {
            "the table is BYPASS WAL"
        } else {
            "a table not partitioned (PARTITION BY NONE, the default) is not WAL"
        };
        return Err(parse_err(format!(
            "deduplication is possible only on WAL tables [table={table}]: {why}"
        )));
    }
    let idx = dedup::resolve(table, &schema, designated, &keys)?;
    Ok(dedup::with_keys(&schema, &idx))
}

/// `ALTER TABLE t DEDUP [ENABLE] UPSERT KEYS(…)` / `ALTER TABLE t DEDUP
/// DISABLE` (`DEDUPLICATE` too).
fn alter_dedup(shared: &Shared, text: &str) -> Result<Outcome, Reject> {
    let toks = tokens(text);
    let name = toks
        .get(2)
        .map(|t| unquote(t))
        .ok_or_else(|| parse_err("ALTER TABLE needs a table name"))?;
    let rest = &toks[4.min(toks.len())..];
    let keys = if is_word(rest.first(), "disable") {
        if rest.len() > 1 {
            return Err(parse_err(format!(
                "unexpected {:?} after DEDUP DISABLE",
                rest[1]
            )));
        }
        Vec::new()
    } else if is_word(rest.first(), "enable") {
        upsert_keys(&rest[1..])?
    } else {
        upsert_keys(rest)?
    };
    shared.catalog.set_dedup(&name, keys)?;
    Ok(Outcome::Done(0))
}

/// Adds `questdb.*` metadata to a DataFusion result schema.
fn annotate(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match crate::bridge::qwp_type_of(f) {
            Ok(t) if f.metadata().is_empty() => {
                arrow_field(f.name(), t, false).with_data_type(f.data_type().clone())
            }
            _ => dedup::unmarked(f),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn insert(shared: &Shared, text: &str, binds: &[ColumnData]) -> Result<Outcome, Reject> {
    let low = text.to_ascii_lowercase();
    let start = low.find("into").map(|i| i + 4).unwrap_or(0);
    let rest = text[start..].trim_start();
    let name_end = rest
        .find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(rest.len());
    let name = unquote(&rest[..name_end]);
    let table = shared
        .catalog
        .table(&name)
        .ok_or_else(|| parse_err(format!("table does not exist [table={name}]")))?;
    let mut after = rest[name_end..].trim_start();
    let mut columns: Option<Vec<String>> = None;
    if after.starts_with('(') {
        let close = matching_paren(after, 0).ok_or_else(|| parse_err("unbalanced parentheses"))?;
        columns = Some(
            split_top(&after[1..close])
                .into_iter()
                .map(unquote)
                .collect(),
        );
        after = after[close + 1..].trim_start();
    }
    let source = if after.to_ascii_lowercase().starts_with("values") {
        format!("SELECT * FROM ({after}) AS v")
    } else {
        after.to_string()
    };
    let ctx = session(shared)?;
    let mut df = on_runtime(shared, ctx.sql(&source))?.map_err(df_err)?;
    if !binds.is_empty() {
        df = df
            .with_param_values(ParamValues::List(
                binds.iter().map(scalar_of).map(Into::into).collect(),
            ))
            .map_err(df_err)?;
    }
    let batches = on_runtime(shared, df.collect())?.map_err(df_err)?;
    let targets: Vec<String> = match columns {
        Some(c) => c,
        None => table
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
    };
    let mut rows = 0u64;
    let mut writes = Vec::new();
    for b in batches {
        if b.num_columns() != targets.len() {
            return Err(parse_err(format!(
                "INSERT into {name}: {} values for {} columns",
                b.num_columns(),
                targets.len()
            )));
        }
        let mut fields = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (i, col) in targets.iter().enumerate() {
            let target = table
                .schema
                .field_with_name(col)
                .map_err(|_| parse_err(format!("table {name} has no column {col}")))?;
            let src = b.column(i);
            let casted = cast_value(src, target.data_type()).map_err(|e| {
                Reject::new(
                    Status::SchemaMismatch,
                    format!("table {name}, column {col}: {e}"),
                )
            })?;
            fields.push(target.clone());
            cols.push(casted);
        }
        rows += b.num_rows() as u64;
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
            .map_err(|e| Reject::new(Status::InternalError, e.to_string()))?;
        writes.push((table.name.clone(), batch, None));
    }
    shared.catalog.commit(writes)?;
    Ok(Outcome::Done(rows))
}

fn cast_value(a: &ArrayRef, to: &DataType) -> Result<ArrayRef, arrow::error::ArrowError> {
    let opts = arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    arrow::compute::cast_with_options(a, to, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_types() {
        assert_eq!(
            ddl_type("c", "SYMBOL CAPACITY 256").unwrap().ty,
            ColumnType::Symbol
        );
        assert_eq!(ddl_type("c", "geohash(4c)").unwrap().geohash_bits, 20);
        let d = ddl_type("c", "DECIMAL(30, 4)").unwrap();
        assert_eq!((d.ty, d.scale), (ColumnType::Decimal128, 4));
        assert_eq!(ddl_type("c", "double[][]").unwrap().array_dims, 2);
        assert!(ddl_type("c", "nope").is_err());
        assert_eq!(
            designated_in(" timestamp(ts) PARTITION BY DAY WAL").as_deref(),
            Some("ts")
        );
        assert_eq!(
            split_top("a INT, b DECIMAL(10, 2), c"),
            vec!["a INT", "b DECIMAL(10, 2)", "c"]
        );
    }

    #[test]
    fn upsert_key_lists() {
        let toks = tokens("DEDUP UPSERT KEYS(\"Reported time\",id ) OWNED BY x");
        assert_eq!(toks[..4], ["DEDUP", "UPSERT", "KEYS", "("]);
        assert_eq!(upsert_keys(&toks[1..]).unwrap(), ["Reported time", "id"]);
        assert!(upsert_keys(&tokens("upsert keys(ts,)")).is_err());
    }
}
