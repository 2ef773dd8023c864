//! Handing Arrow arrays between arrow-rs and polars-arrow through the
//! [Arrow C Data Interface](https://arrow.apache.org/docs/format/CDataInterface.html).
//!
//! Both crates implement the interface's two `#[repr(C)]` structs
//! (`ArrowArray`, `ArrowSchema`). A struct exported by one side is *moved*
//! (bit-for-bit, never copied) into the other side's type; from then on the
//! importer owns it and its `Drop` calls the producer's `release` callback
//! exactly once. Buffers are shared, not copied: the importer keeps the
//! producer's allocation alive through that callback.
//!
//! Audit checklist, kept true by the compile-time layout checks and the tests
//! below:
//! 1. the struct pairs have the same size and alignment (checked at compile
//!    time; `transmute` also refuses different sizes);
//! 2. each exported struct is moved exactly once (`transmute` takes it by
//!    value, so there is no second owner and no double release);
//! 3. a schema is only borrowed across the boundary when the borrower does not
//!    keep it (`import_field_from_c` copies what it needs);
//! 4. every import validates the format string and buffer count before use
//!    (both crates do; an error is returned, never a panic).
//!
//! Covered by the tests below (both directions, nulls, slices, shared
//! buffers) and by `tests/it/polars.rs`.

use std::mem::{align_of, size_of};

use arrow::array::{ArrayRef, make_array};
use arrow::datatypes::Field;
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi};
use polars_arrow::array::Array as PaArray;
use polars_arrow::datatypes::Field as PaField;
use polars_arrow::ffi::{
    ArrowArray as PaFfiArray, ArrowSchema as PaFfiSchema, export_array_to_c, export_field_to_c,
    import_array_from_c, import_field_from_c,
};

use crate::{Error, ErrorKind, Result};

// Audit item 1: the two implementations of each C struct agree on layout.
const _: () = assert!(size_of::<FFI_ArrowArray>() == size_of::<PaFfiArray>());
const _: () = assert!(align_of::<FFI_ArrowArray>() == align_of::<PaFfiArray>());
const _: () = assert!(size_of::<FFI_ArrowSchema>() == size_of::<PaFfiSchema>());
const _: () = assert!(align_of::<FFI_ArrowSchema>() == align_of::<PaFfiSchema>());

fn err(
    column: &str,
    what: &str,
    e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
) -> Error {
    Error::wrap(
        ErrorKind::Unsupported,
        format!("column {column:?}: {what} through the Arrow C Data Interface failed"),
        e,
    )
}

/// Moves an arrow-rs array into polars-arrow without copying its buffers.
/// `field` describes it (name, type, metadata).
pub(crate) fn arrow_to_polars(
    array: &ArrayRef,
    field: &Field,
) -> Result<(PaField, Box<dyn PaArray>)> {
    let name = field.name();
    let schema = FFI_ArrowSchema::try_from(field).map_err(|e| err(name, "export", e))?;
    let exported = FFI_ArrowArray::new(&array.to_data());
    // SAFETY: `FFI_ArrowSchema` and polars' `ArrowSchema` are both the C
    // struct `ArrowSchema` with `#[repr(C)]` and the same size/alignment
    // (checked above). The pointer is valid for the borrow's lifetime, and
    // `import_field_from_c` only reads from it (it copies format, name,
    // metadata and children into an owned `Field`); `schema` stays owned by
    // arrow-rs and is released once, by its own `Drop`, at the end of scope.
    let pa_field = unsafe {
        let pa_schema = &*(&schema as *const FFI_ArrowSchema).cast::<PaFfiSchema>();
        import_field_from_c(pa_schema).map_err(|e| err(name, "schema import", e))?
    };
    // SAFETY: same C struct on both sides (layout checked above); the value
    // is moved, so polars becomes its only owner and its `Drop` (or the
    // imported array's) calls arrow-rs' `release` exactly once. The array was
    // produced by arrow-rs from valid `ArrayData` matching `field`'s type,
    // which is the type passed to the import.
    let pa_array = unsafe {
        let moved = std::mem::transmute::<FFI_ArrowArray, PaFfiArray>(exported);
        import_array_from_c(moved, pa_field.dtype.clone())
            .map_err(|e| err(name, "array import", e))?
    };
    Ok((pa_field, pa_array))
}

/// Moves a polars-arrow array into arrow-rs without copying its buffers.
pub(crate) fn polars_to_arrow(
    array: Box<dyn PaArray>,
    field: &PaField,
) -> Result<(Field, ArrayRef)> {
    let name = field.name.as_str().to_owned();
    let pa_schema = export_field_to_c(field);
    let pa_array = export_array_to_c(array);
    // SAFETY: polars' `ArrowSchema` and arrow-rs' `FFI_ArrowSchema` are the
    // same `#[repr(C)]` struct (layout checked above). The value is moved, so
    // arrow-rs is its only owner and releases it once in `Drop`.
    let schema = unsafe { std::mem::transmute::<PaFfiSchema, FFI_ArrowSchema>(pa_schema) };
    // SAFETY: as for the schema; the array struct is moved into arrow-rs'
    // owner type, whose `Drop` calls polars' `release` exactly once.
    let ffi_array = unsafe { std::mem::transmute::<PaFfiArray, FFI_ArrowArray>(pa_array) };
    let field = Field::try_from(&schema).map_err(|e| err(&name, "schema import", e))?;
    // SAFETY: `ffi_array` was exported by polars from a valid array whose type
    // is described by `schema` (both exported from the same array/field
    // pair). `from_ffi` validates buffer counts and lengths against the type
    // and takes ownership of `ffi_array`.
    let data =
        unsafe { from_ffi(ffi_array, &schema) }.map_err(|e| err(&name, "array import", e))?;
    Ok((field, make_array(data)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Array, BooleanArray, Float64Array, Int32Array, ListArray, StringArray, StringViewArray,
        TimestampMicrosecondArray,
    };
    use arrow::datatypes::{DataType, Float64Type, TimeUnit};

    use super::*;

    fn round_trip(a: ArrayRef, f: Field) -> (Field, ArrayRef) {
        let (pf, pa) = arrow_to_polars(&a, &f).expect("to polars");
        assert_eq!(pa.len(), a.len());
        assert_eq!(pa.null_count(), a.null_count());
        polars_to_arrow(pa, &pf).expect("back to arrow")
    }

    #[test]
    fn arrays_survive_both_directions_with_nulls() {
        let cases: Vec<(ArrayRef, Field)> = vec![
            (
                Arc::new(Int32Array::from(vec![Some(1), None, Some(-3)])),
                Field::new("i", DataType::Int32, true),
            ),
            (
                Arc::new(Float64Array::from(vec![None, Some(2.5)])),
                Field::new("f", DataType::Float64, true),
            ),
            (
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
                Field::new("b", DataType::Boolean, true),
            ),
            (
                Arc::new(StringArray::from(vec![Some("a"), None, Some("ccc")])),
                Field::new("s", DataType::Utf8, true),
            ),
            (
                Arc::new(StringViewArray::from(vec![
                    Some("a string longer than twelve bytes"),
                    None,
                    Some("x"),
                ])),
                Field::new("v", DataType::Utf8View, true),
            ),
            (
                Arc::new(TimestampMicrosecondArray::from(vec![Some(1), None]).with_timezone("UTC")),
                Field::new(
                    "t",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    true,
                ),
            ),
            (
                Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(vec![
                    Some(vec![Some(1.0), Some(2.0)]),
                    None,
                ])),
                Field::new(
                    "l",
                    DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
                    true,
                ),
            ),
        ];
        for (a, f) in cases {
            let (f2, b) = round_trip(a.clone(), f.clone());
            assert_eq!(f2.name(), f.name());
            assert_eq!(b.data_type(), a.data_type(), "column {}", f.name());
            assert_eq!(&b, &a, "column {}", f.name());
        }
    }

    #[test]
    fn sliced_arrays_keep_their_offset() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(3), Some(4)]));
        let s = a.slice(1, 3);
        let (_, b) = round_trip(s.clone(), Field::new("i", DataType::Int32, true));
        assert_eq!(&b, &s);
    }

    #[test]
    fn buffers_are_shared_not_copied() {
        let a = Float64Array::from(vec![1.0, 2.0, 3.0]);
        let ptr = a.values().as_ptr();
        let a: ArrayRef = Arc::new(a);
        let (_, pa) = arrow_to_polars(&a, &Field::new("f", DataType::Float64, false)).unwrap();
        let pa = pa
            .as_any()
            .downcast_ref::<polars_arrow::array::PrimitiveArray<f64>>()
            .unwrap();
        assert_eq!(pa.values().as_ptr(), ptr);
    }
}
