//! [`SymCol`]: a SYMBOL column of a row buffer — keys into a dictionary
//! local to the buffer, looked up by an open-addressed table over the
//! dictionary's own bytes (no key copies, comparisons inline).

use arrow::array::StringArray;
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};

use super::column::{hash_bytes, offset, same_bytes};
use crate::error::{Error, ErrorKind, Result};

/// A symbol column: keys into a dictionary local to the buffer.
#[derive(Default)]
pub(super) struct SymCol {
    pub(super) keys: Vec<i32>,
    /// `key + 1` of each entry at its slot (0: empty); a power of two
    /// long, at most a quarter full; linear probing.
    slots: Vec<u32>,
    /// Each entry's hash.
    hashes: Vec<u64>,
    offsets: Vec<i32>,
    data: Vec<u8>,
}

impl SymCol {
    /// The key of `s`, added to the dictionary when new (`true`).
    #[inline]
    pub(super) fn key(&mut self, s: &str) -> Result<(i32, bool)> {
        let h = hash_bytes(s.as_bytes());
        match self.probe(h, s.as_bytes()) {
            Ok(k) => Ok((k as i32, false)),
            Err(slot) => self.add(slot, h, s).map(|k| (k, true)),
        }
    }

    /// The key of the entry `b` (hash `h`), else the empty slot where it
    /// goes (`usize::MAX` when the table has no slot yet).
    #[inline]
    fn probe(&self, h: u64, b: &[u8]) -> std::result::Result<u32, usize> {
        if self.slots.is_empty() {
            return Err(usize::MAX);
        }
        let mask = self.slots.len() - 1;
        let mut i = home(h, mask);
        loop {
            let v = self.slots[i];
            if v == 0 {
                return Err(i);
            }
            let k = v - 1;
            if self.hashes[k as usize] == h && same_bytes(self.entry(k), b) {
                return Ok(k);
            }
            i = (i + 1) & mask;
        }
    }

    /// The bytes of entry `k`.
    #[inline]
    fn entry(&self, k: u32) -> &[u8] {
        let k = k as usize;
        &self.data[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }

    /// Adds `s` (hash `h`, not in the dictionary; `slot` where it goes).
    #[cold]
    fn add(&mut self, mut slot: usize, h: u64, s: &str) -> Result<i32> {
        let n = self.hashes.len();
        let k = i32::try_from(n)
            .ok()
            .filter(|&k| k < i32::MAX)
            .ok_or_else(|| Error::new(ErrorKind::InvalidData, "more than 2^31 distinct symbols"))?;
        let end = offset(self.data.len() + s.len())?;
        if 4 * (n + 1) > self.slots.len() {
            self.grow();
            slot = match self.probe(h, s.as_bytes()) {
                Err(i) => i,
                Ok(_) => unreachable!("a new entry is not in the table"),
            };
        }
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.data.extend_from_slice(s.as_bytes());
        self.offsets.push(end);
        self.hashes.push(h);
        self.slots[slot] = k as u32 + 1;
        Ok(k)
    }

    /// Doubles the table (32 slots at first) and places every entry anew.
    fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(32);
        self.slots.clear();
        self.slots.resize(len, 0);
        let mask = len - 1;
        for (k, &h) in self.hashes.iter().enumerate() {
            let mut i = home(h, mask);
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = k as u32 + 1;
        }
    }

    /// Forgets the newest dictionary entry. Its slot is simply emptied:
    /// no entry was placed after it, so no probe sequence runs through it.
    pub(super) fn pop_entry(&mut self) {
        let Some(n) = self.hashes.len().checked_sub(1) else {
            return;
        };
        let mask = self.slots.len() - 1;
        let mut i = home(self.hashes[n], mask);
        while self.slots[i] as usize != n + 1 {
            i = (i + 1) & mask;
        }
        self.slots[i] = 0;
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
        if !self.hashes.is_empty() {
            self.slots.fill(0);
        }
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
            + cap(&self.slots)
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

/// The first slot for hash `h`: its well-mixed high bits.
#[inline]
fn home(h: u64, mask: usize) -> usize {
    h.rotate_left(20) as usize & mask
}

#[cfg(test)]
mod tests {
    use arrow::array::Array;

    use super::*;

    #[test]
    fn names_differing_in_their_last_byte_spread_over_the_table() {
        let mut s = SymCol::default();
        for i in 0..8 {
            s.key(&format!("SYM0000{i}")).unwrap();
        }
        let mask = s.slots.len() - 1;
        let homes: std::collections::HashSet<usize> =
            s.hashes.iter().map(|&h| home(h, mask)).collect();
        assert!(homes.len() >= 5, "{homes:?}");
    }

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
