//! The seeded workload generator shared by the benches (design.md §5):
//! the same batches for every client in one run.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};

#[derive(Clone, Copy)]
enum Col {
    Sym(usize),
    F64,
    I64,
    Note,
}

/// A workload of design.md §5: a designated `ts` plus these columns, with
/// this fraction of NULLs in every non-ts column.
fn workload(id: &str) -> (Vec<(String, Col)>, f64) {
    fn n(p: &'static str, k: usize, c: Col) -> impl Iterator<Item = (String, Col)> {
        (1..=k).map(move |i| (format!("{p}{i}"), c))
    }
    let w2 = || {
        vec![
            ("id".to_string(), Col::I64),
            ("price".to_string(), Col::F64),
            ("sym".to_string(), Col::Sym(8)),
            ("note".to_string(), Col::Note),
        ]
    };
    let w1 = || {
        let mut v = vec![("sym".to_string(), Col::Sym(64))];
        v.extend(n("d", 4, Col::F64));
        v.extend(n("l", 2, Col::I64));
        v.push(("note".to_string(), Col::Note));
        v
    };
    match id {
        "W1" => (w1(), 0.0),
        "W2" => (w2(), 0.0),
        "W3" => (n("d", 8, Col::F64).collect(), 0.0),
        "W4" => {
            let mut v = w2();
            v.extend(n("d", 5, Col::F64));
            v.extend(n("s", 5, Col::Sym(100_000)));
            (v, 0.0)
        }
        "W5" => (w1(), 0.1),
        "W6" => (
            vec![
                ("symbol".to_string(), Col::Sym(27)),
                ("side".to_string(), Col::Sym(2)),
                ("price".to_string(), Col::F64),
                ("amount".to_string(), Col::F64),
            ],
            0.0,
        ),
        _ => panic!("unknown workload {id}"),
    }
}

pub fn generate(id: &str, rows: usize) -> RecordBatch {
    let (cols, nulls) = workload(id);
    let seed = std::cell::Cell::new(0x9E37_79B9_7F4A_7C15u64);
    let rnd = || {
        let mut x = seed.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        seed.set(x);
        x
    };
    let threshold = (nulls * u32::MAX as f64) as u64;
    let ts: TimestampMicrosecondArray = (0..rows)
        .map(|i| 1_700_000_000_000_000 + i as i64 * 1000 + (rnd() % 400) as i64 - 200)
        .collect::<Vec<_>>()
        .into();
    let mut fields = vec![Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Microsecond, None),
        false,
    )];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(ts)];
    for (name, c) in cols {
        let valid = || (rnd() & 0xFFFF_FFFF) >= threshold;
        let a: ArrayRef = match c {
            Col::Sym(card) => {
                let names: Vec<String> = (0..card).map(|i| format!("SYM{i:05}")).collect();
                let d: DictionaryArray<Int32Type> = (0..rows)
                    .map(|_| valid().then(|| names[(rnd() % card as u64) as usize].as_str()))
                    .collect();
                Arc::new(d)
            }
            Col::F64 => Arc::new(Float64Array::from_iter(
                (0..rows).map(|_| valid().then(|| (rnd() >> 11) as f64)),
            )),
            Col::I64 => Arc::new(Int64Array::from_iter(
                (0..rows).map(|_| valid().then(|| rnd() as i64)),
            )),
            Col::Note => {
                Arc::new(StringArray::from_iter((0..rows).map(|_| {
                    valid().then(|| format!("n{:015}", rnd() % 1_000_000_000_000_000))
                })))
            }
        };
        fields.push(Field::new(name, a.data_type().clone(), nulls > 0.0));
        arrays.push(a);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}
