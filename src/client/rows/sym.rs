//! [`SymCol`]: a SYMBOL column of a row buffer — keys into a dictionary
//! local to the buffer (a [`SymDict`]).

use arrow::array::StringArray;

use crate::bridge::sym_dict::SymDict;
use crate::error::Result;

/// A symbol column: keys into a dictionary local to the buffer.
#[derive(Default)]
pub(super) struct SymCol {
    pub(super) keys: Vec<i32>,
    dict: SymDict,
}

impl SymCol {
    /// The key of `s`, added to the dictionary when new (`true`).
    #[inline]
    pub(super) fn key(&mut self, s: &str) -> Result<(i32, bool)> {
        self.dict.key(s)
    }

    /// Forgets the newest dictionary entry.
    pub(super) fn pop_entry(&mut self) {
        self.dict.pop_entry();
    }

    /// Empties it, keeping its allocations.
    pub(super) fn clear(&mut self) {
        self.keys.clear();
        self.dict.clear();
    }

    /// Bytes allocated for keys and the dictionary.
    pub(super) fn capacity_bytes(&self) -> usize {
        self.keys.capacity() * size_of::<i32>() + self.dict.capacity_bytes()
    }

    /// The dictionary as Arrow strings (copied: the buffer keeps its own).
    pub(super) fn values(&self) -> Result<StringArray> {
        self.dict.values()
    }
}
