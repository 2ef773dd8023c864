//! The connection's egress symbol dictionary as one Arrow string array.
//!
//! Egress SYMBOL ids are connection-global and the dictionary only grows
//! (delta entries) until a CACHE_RESET. [`SymbolValues`] keeps the entries
//! by id and hands out one `StringArray` of all of them, rebuilt only after
//! entries were added: every SYMBOL column of every batch in between uses
//! the same values array (an `Arc` clone) with the wire ids as its keys, so
//! a batch costs the same whether the dictionary holds 20 entries or a
//! million. A rebuild copies the dictionary once (no per-string work); it
//! happens only on batches that bring new entries. Arrays already handed
//! out are never changed by growth or reset.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};

use crate::error::{Error, ErrorKind, Result};

/// The connection's symbol dictionary: entries by id, and the Arrow
/// values array of all of them (see the module docs).
#[derive(Debug)]
pub struct SymbolValues {
    /// `len + 1` offsets into `data`, starting at 0.
    offsets: Vec<i32>,
    data: Vec<u8>,
    /// The values array of every entry, while none was added since.
    cached: Option<ArrayRef>,
}

impl Default for SymbolValues {
    fn default() -> Self {
        SymbolValues::new()
    }
}

impl SymbolValues {
    /// An empty dictionary.
    pub fn new() -> SymbolValues {
        SymbolValues {
            offsets: vec![0],
            data: Vec::new(),
            cached: None,
        }
    }

    /// Entries held (also the next id).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the entry with id [`Self::len`].
    pub fn push(&mut self, s: &str) -> Result<()> {
        let end = i32::try_from(self.data.len() + s.len()).map_err(|_| {
            Error::new(
                ErrorKind::Protocol,
                format!(
                    "symbol dictionary exceeds {} bytes of text (no CACHE_RESET)",
                    i32::MAX
                ),
            )
        })?;
        self.data.extend_from_slice(s.as_bytes());
        self.offsets.push(end);
        self.cached = None;
        Ok(())
    }

    /// The entry with `id`.
    pub fn get(&self, id: u32) -> Option<&str> {
        let i = id as usize;
        let (a, b) = (*self.offsets.get(i)?, *self.offsets.get(i + 1)?);
        std::str::from_utf8(self.data.get(a as usize..b as usize)?).ok()
    }

    /// Forgets every entry (CACHE_RESET). Arrays handed out keep theirs.
    pub fn clear(&mut self) {
        *self = SymbolValues::new();
    }

    /// A `Utf8` array of every entry, by id; the same array (an `Arc`)
    /// until an entry is added.
    pub fn values(&mut self) -> Result<ArrayRef> {
        if let Some(a) = &self.cached {
            return Ok(a.clone());
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets.clone()));
        let a: ArrayRef = Arc::new(
            StringArray::try_new(offsets, Buffer::from_slice_ref(&self.data), None)
                .map_err(|e| Error::wrap(ErrorKind::Protocol, "symbol dictionary", e))?,
        );
        self.cached = Some(a.clone());
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    #[test]
    fn handed_out_values_survive_growth_and_reset() {
        let mut d = SymbolValues::new();
        d.push("a").unwrap();
        d.push("").unwrap();
        d.push("ü").unwrap();
        let first = d.values().unwrap();
        assert!(
            Arc::ptr_eq(&first, &d.values().unwrap()),
            "cached until it grows"
        );
        // Enough entries to move to larger allocations several times.
        for i in 0..10_000 {
            d.push(&format!("sym{i}")).unwrap();
        }
        let second = d.values().unwrap();
        assert_eq!(d.get(2), Some("ü"));
        assert_eq!(d.get(10_002), Some("sym9999"));
        assert_eq!(d.get(10_003), None);
        d.clear();
        assert!(d.is_empty());
        d.push("new").unwrap();
        let third = d.values().unwrap();
        let s = first.as_string::<i32>();
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [Some("a"), Some(""), Some("ü")]
        );
        let s = second.as_string::<i32>();
        assert_eq!(s.len(), 10_003);
        assert_eq!(s.value(0), "a");
        assert_eq!(s.value(10_002), "sym9999");
        assert_eq!(third.as_string::<i32>().value(0), "new");
        assert_eq!(third.len(), 1);
        // What Arrow itself checks of a Utf8 array holds.
        second.to_data().validate_full().unwrap();
        third.to_data().validate_full().unwrap();
    }

    #[test]
    fn empty_dictionary_gives_an_empty_array() {
        let mut d = SymbolValues::new();
        let v = d.values().unwrap();
        assert_eq!(v.len(), 0);
        v.to_data().validate_full().unwrap();
        assert_eq!(d.get(0), None);
    }
}
