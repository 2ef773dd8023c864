//! [`SymCol`]: a SYMBOL column of a row buffer — keys into a dictionary
//! local to the buffer, found through a `hashbrown` table of keys over the
//! dictionary's own bytes (no key copies, comparisons inline).

use arrow::array::StringArray;
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use hashbrown::HashTable;

use super::column::{hash_bytes, offset, same_bytes};
use crate::error::{Error, ErrorKind, Result};

/// A symbol column: keys into a dictionary local to the buffer.
#[derive(Default)]
pub(super) struct SymCol {
    pub(super) keys: Vec<i32>,
    /// The dictionary's keys, found by hash and compared with the bytes
    /// they stand for.
    table: HashTable<u32>,
    /// Each entry's hash (the table's rehash reads them).
    hashes: Vec<u64>,
    offsets: Vec<i32>,
    data: Vec<u8>,
}

/// The bytes of entry `k` of a dictionary's `offsets` and `data`.
#[inline]
fn entry<'a>(offsets: &[i32], data: &'a [u8], k: u32) -> &'a [u8] {
    let k = k as usize;
    &data[offsets[k] as usize..offsets[k + 1] as usize]
}

impl SymCol {
    /// The key of `s`, added to the dictionary when new (`true`).
    #[inline]
    pub(super) fn key(&mut self, s: &str) -> Result<(i32, bool)> {
        let b = s.as_bytes();
        let h = hash_bytes(b);
        let (offsets, data, hashes) = (&self.offsets, &self.data, &self.hashes);
        let found = self.table.find(h, |&k| {
            hashes[k as usize] == h && same_bytes(entry(offsets, data, k), b)
        });
        if let Some(&k) = found {
            return Ok((k as i32, false));
        }
        self.add(h, s).map(|k| (k, true))
    }

    /// Adds `s` (hash `h`, not in the dictionary).
    #[cold]
    fn add(&mut self, h: u64, s: &str) -> Result<i32> {
        let n = self.hashes.len();
        let k = i32::try_from(n)
            .ok()
            .filter(|&k| k < i32::MAX)
            .ok_or_else(|| Error::new(ErrorKind::InvalidData, "more than 2^31 distinct symbols"))?;
        let end = offset(self.data.len() + s.len())?;
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.data.extend_from_slice(s.as_bytes());
        self.offsets.push(end);
        self.hashes.push(h);
        let hashes = &self.hashes;
        self.table
            .insert_unique(h, k as u32, |&k| hashes[k as usize]);
        Ok(k)
    }

    /// Forgets the newest dictionary entry.
    pub(super) fn pop_entry(&mut self) {
        let Some(n) = self.hashes.len().checked_sub(1) else {
            return;
        };
        if let Ok(e) = self.table.find_entry(self.hashes[n], |&k| k as usize == n) {
            e.remove();
        }
        self.hashes.truncate(n);
        self.data.truncate(self.offsets[n] as usize);
        self.offsets.truncate(n + 1);
    }

    /// Entries in the dictionary.
    #[cfg(test)]
    pub(super) fn entries(&self) -> usize {
        self.hashes.len()
    }

    /// Empties it, keeping its allocations.
    pub(super) fn clear(&mut self) {
        self.keys.clear();
        self.table.clear();
        self.hashes.clear();
        self.offsets.clear();
        self.data.clear();
    }

    /// Bytes allocated for keys and the dictionary.
    pub(super) fn capacity_bytes(&self) -> usize {
        fn cap<T>(v: &Vec<T>) -> usize {
            v.capacity() * size_of::<T>()
        }
        cap(&self.keys)
            + self.table.capacity() * size_of::<u32>()
            + cap(&self.hashes)
            + cap(&self.offsets)
            + cap(&self.data)
    }

    /// The dictionary as Arrow strings (copied: the buffer keeps its own).
    pub(super) fn values(&self) -> Result<StringArray> {
        let offs = if self.offsets.is_empty() {
            vec![0]
        } else {
            self.offsets.clone()
        };
        StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offs)),
            Buffer::from_slice_ref(&self.data),
            None,
        )
        .map_err(|e| Error::arrow(ErrorKind::Internal, "symbol dictionary", e))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Array;

    use super::*;

    #[test]
    fn keys_stay_stable_through_growth_pops_and_clears() {
        let mut s = SymCol::default();
        let names: Vec<String> = (0..1000).map(|i| format!("s{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(s.key(n).unwrap(), (i as i32, true));
        }
        for (i, n) in names.iter().enumerate().rev() {
            assert_eq!(s.key(n).unwrap(), (i as i32, false));
        }
        assert_eq!(s.key("").unwrap(), (1000, true));
        s.pop_entry();
        s.pop_entry();
        assert_eq!(s.entries(), 999);
        assert_eq!(s.key("s998").unwrap(), (998, false));
        assert_eq!(s.key("s999").unwrap(), (999, true));
        assert_eq!(s.key("").unwrap(), (1000, true));
        let v = s.values().unwrap();
        assert_eq!(v.len(), 1001);
        assert_eq!(v.value(999), "s999");
        assert_eq!(v.value(1000), "");
        s.clear();
        assert_eq!(s.values().unwrap().len(), 0);
        assert_eq!(s.key("s5").unwrap(), (0, true));
        assert_eq!(s.key("s5").unwrap(), (0, false));
    }
}
