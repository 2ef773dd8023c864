//! The fast path for plain scans: `SELECT * | col [AS alias], … FROM t
//! [WHERE simple] [LIMIT n]` served from the table's stored batches
//! without DataFusion.
//!
//! `simple` is a conjunction (`AND`, parentheses allowed) of
//! `column op literal` (or `literal op column`) with `=`, `<>`, `!=`, `<`,
//! `<=`, `>`, `>=`, of `column BETWEEN literal AND literal`, and of
//! `column IS [NOT] NULL`. A comparison is taken only where its result is
//! certainly the one DataFusion computes: integer columns with integer
//! literals that fit the column's type, DOUBLE columns with numeric
//! literals (integers up to 2^53), VARCHAR and SYMBOL columns with string
//! literals, TIMESTAMP columns with string literals (cast by the same
//! Arrow kernel DataFusion's coercion uses).
//!
//! The statement is parsed by DataFusion's own parser, and recognised by
//! comparing its AST with the one of `SELECT * FROM t` once the parts
//! understood here are swapped in: any other clause, modifier, binds,
//! an unknown table or column, a duplicate output name, or a type or
//! literal not listed above leaves the statement to DataFusion, unchanged.
//! Identifiers are normalised as DataFusion does (unquoted ones
//! lowercased), so both paths resolve the same names.
//!
//! Rows come out in stored order, like DataFusion's single-partition scan;
//! projection is zero-copy, filters use Arrow's comparison and filter
//! kernels (with DataFusion's float rule: -0.0 equals 0.0, NaN equals NaN
//! and sorts above every number), and `LIMIT` slices.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, Scalar, StringArray};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::cmp;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use datafusion::common::utils::normalize_float_zero;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Ident, LimitClause, ObjectNamePart, Query, Select, SelectItem, SetExpr,
    Statement, TableFactor, UnaryOperator, Value,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;

use super::Shared;
use super::sql::{Next, RunningQuery};
use super::storage::{Reject, Table};
use crate::protocol::Status;

/// Where a result set's batches come from.
pub(crate) enum Source {
    /// A DataFusion plan, executing.
    Plan(SendableRecordBatchStream),
    /// A plain scan of stored batches.
    Scan(Scan),
}

impl Source {
    /// The result schema.
    pub(crate) fn schema(&self) -> SchemaRef {
        match self {
            Source::Plan(s) => s.schema(),
            Source::Scan(s) => s.schema.clone(),
        }
    }

    /// Starts producing batches (a DataFusion plan runs as a task on the
    /// server's runtime; a scan is computed on demand).
    pub(crate) fn start(self, shared: &Shared) -> Running {
        match self {
            Source::Plan(s) => Running::Plan(RunningQuery::spawn(shared, s)),
            Source::Scan(s) => Running::Scan(s),
        }
    }
}

/// A started [`Source`]. Dropping it stops the work.
pub(crate) enum Running {
    /// See [`RunningQuery`].
    Plan(RunningQuery),
    /// See [`Scan`].
    Scan(Scan),
}

impl Running {
    /// The next batch; a plan is waited on for at most `wait`.
    pub(crate) fn next(&mut self, wait: Duration) -> Next {
        match self {
            Running::Plan(q) => q.next(wait),
            Running::Scan(s) => s.next_batch(),
        }
    }
}

/// Comparison operators, as `column op literal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl Op {
    fn of(op: &BinaryOperator) -> Option<Op> {
        Some(match op {
            BinaryOperator::Eq => Op::Eq,
            BinaryOperator::NotEq => Op::NotEq,
            BinaryOperator::Lt => Op::Lt,
            BinaryOperator::LtEq => Op::LtEq,
            BinaryOperator::Gt => Op::Gt,
            BinaryOperator::GtEq => Op::GtEq,
            _ => return None,
        })
    }

    /// `lit op col` as `col flipped lit`.
    fn flipped(self) -> Op {
        match self {
            Op::Lt => Op::Gt,
            Op::LtEq => Op::GtEq,
            Op::Gt => Op::Lt,
            Op::GtEq => Op::LtEq,
            same => same,
        }
    }

    /// `a op lit` as DataFusion computes it: Arrow's kernels (total order,
    /// NaN largest) with -0.0 taken as 0.0.
    fn eval(self, a: &ArrayRef, lit: &ArrayRef) -> Result<BooleanArray, ArrowError> {
        let a = normalize_float_zero(a);
        let b = Scalar::new(normalize_float_zero(lit));
        match self {
            Op::Eq => cmp::eq(&a, &b),
            Op::NotEq => cmp::neq(&a, &b),
            Op::Lt => cmp::lt(&a, &b),
            Op::LtEq => cmp::lt_eq(&a, &b),
            Op::Gt => cmp::gt(&a, &b),
            Op::GtEq => cmp::gt_eq(&a, &b),
        }
    }
}

/// One conjunct of the filter.
#[derive(Debug)]
enum Pred {
    /// `column op literal`; the literal is one value of the column's type
    /// (of the values' type for dictionaries).
    Cmp { col: usize, op: Op, lit: ArrayRef },
    /// `column IS NULL` (`null`) or `IS NOT NULL`.
    Null { col: usize, null: bool },
}

impl Pred {
    /// Rows where the predicate is true (NULL counts as false).
    fn mask(&self, batch: &RecordBatch) -> Result<BooleanBuffer, ArrowError> {
        let m = match self {
            Pred::Cmp { col, op, lit } => {
                let a = batch.column(*col);
                match a.data_type() {
                    DataType::Dictionary(_, _) => {
                        // Compare each dictionary value once, then pick
                        // by key (NULL keys give NULL).
                        let d = a.as_any_dictionary();
                        let on_values = op.eval(d.values(), lit)?;
                        let picked = arrow::compute::take(&on_values, d.keys(), None)?;
                        picked.as_boolean().clone()
                    }
                    _ => op.eval(a, lit)?,
                }
            }
            Pred::Null { col, null } => {
                let a = batch.column(*col);
                if *null {
                    arrow::compute::is_null(a.as_ref())?
                } else {
                    arrow::compute::is_not_null(a.as_ref())?
                }
            }
        };
        Ok(match m.nulls() {
            Some(n) => m.values() & n.inner(),
            None => m.values().clone(),
        })
    }
}

/// A recognised plain scan over a table snapshot, producing its batches on
/// demand.
pub(crate) struct Scan {
    /// The result schema (as DataFusion would give it).
    schema: SchemaRef,
    /// The table's stored batches (shared, not copied).
    batches: Vec<RecordBatch>,
    /// Stored column of each result column.
    projection: Vec<usize>,
    filter: Vec<Pred>,
    /// Rows still to give (`None`: no LIMIT).
    left: Option<usize>,
    /// Next stored batch.
    next: usize,
}

impl Scan {
    fn failed(e: ArrowError) -> Next {
        Next::Failed(Reject::new(Status::InternalError, e.to_string()))
    }

    /// The next non-empty result batch, or the end.
    fn next_batch(&mut self) -> Next {
        loop {
            if self.left == Some(0) || self.next >= self.batches.len() {
                return Next::End;
            }
            let stored = &self.batches[self.next];
            self.next += 1;
            let mut keep: Option<BooleanBuffer> = None;
            for p in &self.filter {
                match p.mask(stored) {
                    Ok(m) => {
                        keep = Some(match keep {
                            None => m,
                            Some(k) => &k & &m,
                        })
                    }
                    Err(e) => return Scan::failed(e),
                }
            }
            let cols: Vec<ArrayRef> = self
                .projection
                .iter()
                .map(|&i| stored.column(i).clone())
                .collect();
            let opts =
                arrow::array::RecordBatchOptions::new().with_row_count(Some(stored.num_rows()));
            let mut b = match RecordBatch::try_new_with_options(self.schema.clone(), cols, &opts) {
                Ok(b) => b,
                Err(e) => return Scan::failed(e),
            };
            if let Some(k) = keep
                && k.count_set_bits() < k.len()
            {
                b = match arrow::compute::filter_record_batch(&b, &BooleanArray::new(k, None)) {
                    Ok(b) => b,
                    Err(e) => return Scan::failed(e),
                };
            }
            if let Some(left) = self.left.as_mut() {
                let n = b.num_rows().min(*left);
                *left -= n;
                b = b.slice(0, n);
            }
            if b.num_rows() > 0 {
                return Next::Batch(b);
            }
        }
    }
}

/// DataFusion's identifier normalisation: unquoted lowercased (ASCII).
fn normalize(id: &Ident) -> String {
    match id.quote_style {
        Some(_) => id.value.clone(),
        None => id.value.to_ascii_lowercase(),
    }
}

/// The `SELECT * FROM t` AST that a plain scan must equal once its
/// projection, table name, filter and limit are swapped for these.
fn template() -> Option<Box<Query>> {
    match DFParser::parse_sql_with_dialect("SELECT * FROM t", &GenericDialect {})
        .ok()?
        .pop_front()?
    {
        DfStatement::Statement(s) => match *s {
            Statement::Query(q) => Some(q),
            _ => None,
        },
        _ => None,
    }
}

/// Recognises a plain scan in `text` (the statement as DataFusion would
/// get it). `None`: leave it to DataFusion.
pub(crate) fn plan(shared: &Shared, text: &str) -> Option<Scan> {
    plan_with(text, |name| shared.catalog.table(name))
}

/// [`plan`] over the tables `lookup` finds (by lowercased name).
fn plan_with(text: &str, lookup: impl Fn(&str) -> Option<Table>) -> Option<Scan> {
    let mut stmts = DFParser::parse_sql_with_dialect(text, &GenericDialect {}).ok()?;
    if stmts.len() != 1 {
        return None;
    }
    let DfStatement::Statement(s) = stmts.pop_front()? else {
        return None;
    };
    let Statement::Query(q) = *s else {
        return None;
    };
    let tq = template()?;
    let SetExpr::Select(tsel) = tq.body.as_ref() else {
        return None;
    };
    // Nothing but a SELECT body and a LIMIT around it.
    let mut probe = q.clone();
    probe.body = tq.body.clone();
    probe.limit_clause = None;
    if probe != tq {
        return None;
    }
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    let table = table_of(&lookup, sel, tsel)?;
    // Nothing but projection, one plain table and WHERE in the SELECT.
    let mut probe: Select = sel.as_ref().clone();
    probe.projection = tsel.projection.clone();
    probe.from = tsel.from.clone();
    probe.selection = None;
    if probe != **tsel {
        return None;
    }
    let limit = match &q.limit_clause {
        None => None,
        Some(LimitClause::LimitOffset {
            limit: Some(Expr::Value(v)),
            offset: None,
            limit_by,
        }) if limit_by.is_empty() => match &v.value {
            Value::Number(n, false) => Some(n.parse::<usize>().ok()?),
            _ => return None,
        },
        Some(_) => return None,
    };
    // Every stored batch has the table's column types.
    for b in &table.batches {
        let same = b.num_columns() == table.schema.fields().len()
            && b.schema()
                .fields()
                .iter()
                .zip(table.schema.fields())
                .all(|(x, y)| x.data_type() == y.data_type());
        if !same {
            return None;
        }
    }
    let (fields, projection) = project(&table.schema, &sel.projection, &tsel.projection)?;
    let mut filter = Vec::new();
    if let Some(w) = &sel.selection {
        conjuncts(w, &table.schema, &mut filter)?;
    }
    Some(Scan {
        schema: Arc::new(Schema::new(fields)),
        batches: table.batches,
        projection,
        filter,
        left: limit,
        next: 0,
    })
}

/// The one plain table of `sel`, resolved as DataFusion resolves it
/// (registered under its lowercased name).
fn table_of(lookup: &impl Fn(&str) -> Option<Table>, sel: &Select, tsel: &Select) -> Option<Table> {
    let [from] = sel.from.as_slice() else {
        return None;
    };
    let [tfrom] = tsel.from.as_slice() else {
        return None;
    };
    let TableFactor::Table { name, .. } = &from.relation else {
        return None;
    };
    let [ObjectNamePart::Identifier(id)] = name.0.as_slice() else {
        return None;
    };
    // The same relation as the template's, name aside: no alias, joins,
    // hints, samples, arguments, ...
    let mut probe = from.clone();
    if let TableFactor::Table { name, .. } = &mut probe.relation {
        name.clone_from(match &tfrom.relation {
            TableFactor::Table { name, .. } => name,
            _ => return None,
        });
    }
    if probe != *tfrom {
        return None;
    }
    let wanted = normalize(id);
    let table = lookup(&wanted)?;
    (table.name.to_ascii_lowercase() == wanted).then_some(table)
}

/// The result fields and the stored column of each: `*`, or columns with
/// optional aliases; duplicate output names are left to DataFusion (which
/// refuses them).
fn project(
    schema: &SchemaRef,
    items: &[SelectItem],
    star: &[SelectItem],
) -> Option<(Vec<Field>, Vec<usize>)> {
    if items == star {
        let fields = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        return Some((fields, (0..schema.fields().len()).collect()));
    }
    let mut fields: Vec<Field> = Vec::new();
    let mut projection = Vec::new();
    for item in items {
        let (col, alias) = match item {
            SelectItem::UnnamedExpr(Expr::Identifier(c)) => (c, None),
            SelectItem::ExprWithAlias {
                expr: Expr::Identifier(c),
                alias,
            } => (c, Some(alias)),
            _ => return None,
        };
        let i = schema.index_of(&normalize(col)).ok()?;
        let mut f = schema.field(i).clone();
        if let Some(a) = alias {
            f = f.with_name(normalize(a));
        }
        if fields.iter().any(|x| x.name() == f.name()) {
            return None;
        }
        fields.push(f);
        projection.push(i);
    }
    Some((fields, projection))
}

/// Adds the conjuncts of `e` to `out`; `None` if any is not simple.
fn conjuncts(e: &Expr, schema: &SchemaRef, out: &mut Vec<Pred>) -> Option<()> {
    match e {
        Expr::Nested(inner) => conjuncts(inner, schema, out),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(left, schema, out)?;
            conjuncts(right, schema, out)
        }
        Expr::BinaryOp { left, op, right } => {
            let op = Op::of(op)?;
            let (col, op, lit) = match (column(left, schema), column(right, schema)) {
                (Some(c), None) => (c, op, right.as_ref()),
                (None, Some(c)) => (c, op.flipped(), left.as_ref()),
                _ => return None,
            };
            let lit = literal(lit, schema.field(col).data_type())?;
            out.push(Pred::Cmp { col, op, lit });
            Some(())
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => {
            let col = column(expr, schema)?;
            let t = schema.field(col).data_type();
            let (low, high) = (literal(low, t)?, literal(high, t)?);
            out.push(Pred::Cmp {
                col,
                op: Op::GtEq,
                lit: low,
            });
            out.push(Pred::Cmp {
                col,
                op: Op::LtEq,
                lit: high,
            });
            Some(())
        }
        Expr::IsNull(c) => {
            let col = column(c, schema)?;
            out.push(Pred::Null { col, null: true });
            Some(())
        }
        Expr::IsNotNull(c) => {
            let col = column(c, schema)?;
            out.push(Pred::Null { col, null: false });
            Some(())
        }
        _ => None,
    }
}

/// The stored column a plain identifier names.
fn column(e: &Expr, schema: &SchemaRef) -> Option<usize> {
    match e {
        Expr::Identifier(id) => schema.index_of(&normalize(id)).ok(),
        Expr::Nested(inner) => column(inner, schema),
        _ => None,
    }
}

/// A number literal as DataFusion reads it.
enum Number {
    Int(i64),
    Float(f64),
}

fn number(e: &Expr) -> Option<Number> {
    let (digits, negative) = match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, false) => (n, false),
            _ => return None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::Number(n, false) => (n, true),
                _ => return None,
            },
            _ => return None,
        },
        Expr::Nested(inner) => return number(inner),
        _ => return None,
    };
    let mut s = String::with_capacity(digits.len() + 1);
    if negative {
        s.push('-');
    }
    s.extend(digits.chars().filter(|&c| c != '_'));
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::Int(i));
    }
    // DataFusion reads what is left as u64 (when positive), else as f64;
    // only the f64 case is taken here.
    if !negative && s.parse::<u64>().is_ok() {
        return None;
    }
    s.parse::<f64>().ok().map(Number::Float)
}

fn string(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        Expr::Nested(inner) => string(inner),
        _ => None,
    }
}

/// One value, cast exactly (a cast that would fail, round or saturate
/// gives `None`).
fn cast_one(a: ArrayRef, to: &DataType) -> Option<ArrayRef> {
    let opts = arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    let c = arrow::compute::cast_with_options(&a, to, &opts).ok()?;
    (c.len() == 1 && c.null_count() == 0).then_some(c)
}

/// The literal `e` as one value to compare a column of type `t` with, when
/// the comparison means exactly what DataFusion computes.
fn literal(e: &Expr, t: &DataType) -> Option<ArrayRef> {
    use DataType::*;
    match t {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => match number(e)? {
            Number::Int(i) => cast_one(Arc::new(arrow::array::Int64Array::from(vec![i])), t),
            Number::Float(_) => None,
        },
        Float64 => {
            let v = match number(e)? {
                // Integers convert to f64 exactly up to 2^53.
                Number::Int(i) if i.unsigned_abs() <= 1 << 53 => i as f64,
                Number::Int(_) => return None,
                Number::Float(f) => f,
            };
            Some(Arc::new(arrow::array::Float64Array::from(vec![v])))
        }
        Utf8 | LargeUtf8 | Utf8View => cast_one(Arc::new(StringArray::from(vec![string(e)?])), t),
        Dictionary(_, v) if matches!(v.as_ref(), Utf8 | LargeUtf8 | Utf8View) => {
            cast_one(Arc::new(StringArray::from(vec![string(e)?])), v)
        }
        Timestamp(_, _) => cast_one(Arc::new(StringArray::from(vec![string(e)?])), t),
        _ => None,
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
