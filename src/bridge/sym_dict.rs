//! [`SymDict`]: a SYMBOL column's dictionary built value by value — the
//! distinct strings in the order first seen, found again through a
//! `hashbrown` table of keys over the dictionary's own bytes (no key
//! copies, comparisons inline). The row buffer's symbol columns and the
//! embedded server's ILP symbol columns build their dictionaries with it,
//! and a connection's dictionary of symbol ids
//! ([`SymbolDict`](super::column_data::SymbolDict), both the sender's and
//! the embedded server's for results) finds its strings with it.

use std::hash::BuildHasher;

use arrow::array::StringArray;
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use hashbrown::HashTable;

use crate::error::{Error, ErrorKind, Result};

/// The hash of `b` for the dictionary (foldhash, fixed seed: the values
/// are the caller's own data, no DoS resistance needed).
#[inline]
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    foldhash::fast::FixedState::default().hash_one(b)
}

/// `a == b` for the short strings names and symbols are, compared inline
/// in at most two overlapping words (no `memcmp` call).
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    let half = |s: &[u8], at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_ne_bytes(w)
    };
    match n {
        0 => true,
        1..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        9..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// An offset into the dictionary's bytes.
fn offset(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| {
        Error::new(
            ErrorKind::InvalidData,
            "a symbol dictionary holds more than 2 GiB of bytes",
        )
    })
}

/// The distinct strings of a SYMBOL column, keyed `0..` in the order
/// first seen.
#[derive(Default, Clone)]
pub(crate) struct SymDict {
    /// The keys, found by hash and compared with the bytes they stand for.
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

impl SymDict {
    /// The key of `s`, added to the dictionary when new (`true`).
    #[inline]
    pub(crate) fn key(&mut self, s: &str) -> Result<(i32, bool)> {
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

    /// Appends `s` as the next entry even when it is already in the
    /// dictionary: its key is its position, and lookups of a duplicate
    /// keep finding the first (a dictionary taken up again from a list
    /// whose positions are the ids).
    pub(crate) fn push_entry(&mut self, s: &str) -> Result<i32> {
        let (first, new) = self.key(s)?;
        if new {
            return Ok(first);
        }
        // Not in the table: lookups find `first`.
        self.append(self.hashes[first as usize], s)
    }

    /// Adds `s` (hash `h`, not in the dictionary).
    #[cold]
    fn add(&mut self, h: u64, s: &str) -> Result<i32> {
        let k = self.append(h, s)?;
        let hashes = &self.hashes;
        self.table
            .insert_unique(h, k as u32, |&k| hashes[k as usize]);
        Ok(k)
    }

    /// Stores `s` (hash `h`) as the next entry, not in the table yet.
    fn append(&mut self, h: u64, s: &str) -> Result<i32> {
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
        Ok(k)
    }

    /// Forgets the newest entry.
    pub(crate) fn pop_entry(&mut self) {
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
    pub(crate) fn entries(&self) -> usize {
        self.hashes.len()
    }

    /// Empties it, keeping its allocations.
    pub(crate) fn clear(&mut self) {
        self.table.clear();
        self.hashes.clear();
        self.offsets.clear();
        self.data.clear();
    }

    /// UTF-8 bytes of all entries (duplicates pushed included).
    pub(crate) fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Bytes allocated.
    pub(crate) fn capacity_bytes(&self) -> usize {
        fn cap<T>(v: &Vec<T>) -> usize {
            v.capacity() * size_of::<T>()
        }
        self.table.capacity() * size_of::<u32>()
            + cap(&self.hashes)
            + cap(&self.offsets)
            + cap(&self.data)
    }

    /// The dictionary as Arrow strings, copied (the dictionary keeps its
    /// own for the next rows).
    pub(crate) fn values(&self) -> Result<StringArray> {
        Self::strings(
            if self.offsets.is_empty() {
                vec![0]
            } else {
                self.offsets.clone()
            },
            Buffer::from_slice_ref(&self.data),
        )
    }

    /// The dictionary as Arrow strings, its bytes moved (no copy). (The
    /// embedded server's ILP columns use it.)
    #[cfg(any(feature = "server", test))]
    pub(crate) fn into_values(self) -> Result<StringArray> {
        let mut offsets = self.offsets;
        if offsets.is_empty() {
            offsets.push(0);
        }
        Self::strings(offsets, Buffer::from_vec(self.data))
    }

    fn strings(offsets: Vec<i32>, data: Buffer) -> Result<StringArray> {
        StringArray::try_new(OffsetBuffer::new(ScalarBuffer::from(offsets)), data, None)
            .map_err(|e| Error::arrow(ErrorKind::Internal, "symbol dictionary", e))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Array;

    use super::*;

    #[test]
    fn keys_stay_stable_through_growth_pops_and_clears() {
        let mut s = SymDict::default();
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
        let moved = s.into_values().unwrap();
        assert_eq!(moved, v);
        let mut s = SymDict::default();
        assert_eq!(s.values().unwrap().len(), 0);
        assert_eq!(s.key("s5").unwrap(), (0, true));
        s.clear();
        assert_eq!(s.into_values().unwrap().len(), 0);
    }

    /// A pushed duplicate takes the next key; lookups keep the first, and
    /// popping the duplicate leaves the first in place.
    #[test]
    fn a_pushed_duplicate_keeps_its_position() {
        let mut s = SymDict::default();
        assert_eq!(s.push_entry("a").unwrap(), 0);
        assert_eq!(s.push_entry("b").unwrap(), 1);
        assert_eq!(s.push_entry("a").unwrap(), 2);
        assert_eq!(s.push_entry("c").unwrap(), 3);
        assert_eq!(s.key("a").unwrap(), (0, false));
        assert_eq!(s.key("c").unwrap(), (3, false));
        assert_eq!(s.key("d").unwrap(), (4, true));
        let v = s.values().unwrap();
        let got: Vec<&str> = v.iter().flatten().collect();
        assert_eq!(got, ["a", "b", "a", "c", "d"]);
        s.pop_entry();
        s.pop_entry();
        s.pop_entry();
        assert_eq!(s.key("a").unwrap(), (0, false));
        assert_eq!(s.key("c").unwrap(), (2, true));
    }

    #[test]
    fn same_bytes_agrees_with_slice_equality() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..40 {
            let a = &base[..n];
            assert!(same_bytes(a, a));
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 1;
                assert!(!same_bytes(a, &b), "len {n}, differs at {at}");
            }
            assert!(!same_bytes(a, &base[..n + 1]));
        }
    }
}
