//! The connection's egress symbol dictionary as one append-only Arrow
//! string array.
//!
//! Egress SYMBOL ids are connection-global and the dictionary only grows
//! (delta entries) until a CACHE_RESET. [`SymbolValues`] keeps the entries
//! as Arrow `Utf8` buffers (i32 offsets and UTF-8 bytes) in allocations
//! whose written prefix is never touched again: new entries are written
//! after it, and [`SymbolValues::values`] hands out a `StringArray` over
//! the prefix written so far without copying it. So every SYMBOL column of
//! every batch uses the same values array (an `Arc` clone), its keys are
//! the wire ids themselves, and a batch costs the same whether the
//! dictionary holds 20 entries or a million. Batches already handed out
//! keep their own reference to the allocations, so growing (which moves to
//! a larger allocation) or resetting never changes them.
//!
//! This file holds the crate's one `unsafe` outside the polars hand-over:
//! `AppendBuf`, an allocation shared read-only up to its length while
//! its owner appends after it. Safe Arrow buffers cannot grow once shared,
//! so without it every batch would need its own copy of the dictionary.
#![allow(unsafe_code)]

use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};

use crate::error::{Error, ErrorKind, Result};

/// Alignment of the allocations (Arrow's own, more than `i32` needs).
const ALIGN: usize = 64;

/// One heap allocation of `layout`, freed when the last owner (the
/// [`AppendBuf`] or a `Buffer` handed out) drops it.
struct Region {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: a `Region` is a plain heap allocation; it has no thread affinity.
// Shared access only ever reads bytes that are no longer written (see
// `AppendBuf`), and only the single `AppendBuf` owner writes.
unsafe impl Send for Region {}
// SAFETY: as for `Send`: concurrent readers only read the frozen prefix,
// which no one writes.
unsafe impl Sync for Region {}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc::alloc(self.layout)` in
        // `Region::new` and is freed only here, once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// The first allocation of a buffer (checked at compile time).
const INITIAL: Layout = match Layout::from_size_align(256, ALIGN) {
    Ok(l) => l,
    Err(_) => panic!("256 bytes aligned to 64 is a valid layout"),
};

impl Region {
    fn new(cap: usize) -> Result<Region> {
        let layout = Layout::from_size_align(cap.max(ALIGN), ALIGN)
            .map_err(|e| Error::wrap(ErrorKind::Protocol, "symbol dictionary too large", e))?;
        Ok(Region::with_layout(layout))
    }

    /// `layout` must have a non-zero size.
    fn with_layout(layout: Layout) -> Region {
        debug_assert!(layout.size() > 0);
        // SAFETY: every caller passes a non-zero size (`new` takes at least
        // `ALIGN` bytes, `INITIAL` has 256).
        let ptr = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(ptr) else {
            alloc::handle_alloc_error(layout)
        };
        Region { ptr, layout }
    }
}

/// Append-only bytes: `[0, len)` is written once and then only read (by
/// this buffer and by every `Buffer` handed out); appends go to
/// `[len, capacity)`, which nothing else can see. Growing moves to a new,
/// larger allocation (the old one lives on in the buffers that use it).
struct AppendBuf {
    region: Arc<Region>,
    len: usize,
}

impl AppendBuf {
    fn new() -> AppendBuf {
        AppendBuf {
            region: Arc::new(Region::with_layout(INITIAL)),
            len: 0,
        }
    }

    fn extend(&mut self, bytes: &[u8]) -> Result<()> {
        let need = self
            .len
            .checked_add(bytes.len())
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "symbol dictionary size overflows"))?;
        if need > self.region.layout.size() {
            let cap = need.max(self.region.layout.size().saturating_mul(2));
            let region = Region::new(cap)?;
            // SAFETY: both allocations are valid for `self.len` bytes (the
            // old one holds them initialised, the new one has at least
            // `need >= len` bytes) and they do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.region.ptr.as_ptr(),
                    region.ptr.as_ptr(),
                    self.len,
                );
            }
            self.region = Arc::new(region);
        }
        // SAFETY: `[len, len + bytes.len())` lies inside the allocation
        // (`need <= size`). No reference covers it: everything handed out
        // (`Buffer`s, `as_slice`) covers at most `[0, len)`, and `&mut
        // self` excludes a concurrent append. The pointer is the
        // allocator's, not derived from a shared reference.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.region.ptr.as_ptr().add(self.len),
                bytes.len(),
            );
        }
        self.len = need;
        Ok(())
    }

    /// Writes the first bytes of a new buffer (at most its initial size).
    fn write_initial(&mut self, bytes: &[u8]) {
        assert!(self.len == 0 && bytes.len() <= INITIAL.size());
        // SAFETY: nothing is written or shared yet and `bytes` fits the
        // allocation (asserted).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.region.ptr.as_ptr(), bytes.len());
        }
        self.len = bytes.len();
    }

    /// The bytes written so far.
    fn as_slice(&self) -> &[u8] {
        // SAFETY: `[0, len)` is initialised and is never written again
        // while this `&self` borrow lives (appends need `&mut self` and
        // only write after `len`).
        unsafe { std::slice::from_raw_parts(self.region.ptr.as_ptr(), self.len) }
    }

    /// An Arrow buffer over the bytes written so far, sharing the
    /// allocation.
    fn share(&self) -> Buffer {
        let owner: Arc<Region> = self.region.clone();
        // SAFETY: `ptr` is valid for `len` initialised bytes, which are
        // never written again (appends go after `len`; growing moves to a
        // new allocation) and stay allocated while `owner` (an `Arc` of the
        // region, kept by the buffer) lives.
        unsafe { Buffer::from_custom_allocation(self.region.ptr, self.len, owner) }
    }
}

/// The connection's symbol dictionary: entries by id, and the Arrow
/// values array of all of them (see the module docs).
pub struct SymbolValues {
    /// `len + 1` i32 offsets, native-endian as Arrow keeps them.
    offsets: AppendBuf,
    data: AppendBuf,
    len: usize,
    /// The values array of the first `len` entries, while no entry has
    /// been added since it was made.
    cached: Option<ArrayRef>,
}

impl std::fmt::Debug for SymbolValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymbolValues")
            .field("len", &self.len)
            .field("bytes", &self.data.len)
            .finish()
    }
}

impl Default for SymbolValues {
    fn default() -> Self {
        SymbolValues::new()
    }
}

impl SymbolValues {
    /// An empty dictionary.
    pub fn new() -> SymbolValues {
        let mut offsets = AppendBuf::new();
        // The first offset, 0 (fits the initial allocation: no growth).
        offsets.write_initial(&0i32.to_ne_bytes());
        SymbolValues {
            offsets,
            data: AppendBuf::new(),
            len: 0,
            cached: None,
        }
    }

    /// Entries held (also the next id).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the entry with id [`Self::len`].
    pub fn push(&mut self, s: &str) -> Result<()> {
        let end = i32::try_from(self.data.len + s.len()).map_err(|_| {
            Error::new(
                ErrorKind::Protocol,
                format!(
                    "symbol dictionary exceeds {} bytes of text (no CACHE_RESET)",
                    i32::MAX
                ),
            )
        })?;
        self.data.extend(s.as_bytes())?;
        self.offsets.extend(&end.to_ne_bytes())?;
        self.len += 1;
        self.cached = None;
        Ok(())
    }

    /// The entry with `id`.
    pub fn get(&self, id: u32) -> Option<&str> {
        let i = id as usize;
        if i >= self.len {
            return None;
        }
        let off = self.offsets.as_slice();
        let at = |k: usize| {
            let b = &off[k * 4..k * 4 + 4];
            i32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize
        };
        std::str::from_utf8(&self.data.as_slice()[at(i)..at(i + 1)]).ok()
    }

    /// Forgets every entry (CACHE_RESET). Arrays handed out keep theirs.
    pub fn clear(&mut self) {
        *self = SymbolValues::new();
    }

    /// A `Utf8` array of every entry, by id; the same array (an `Arc`)
    /// until an entry is added. No copy of the entries is made.
    pub fn values(&mut self) -> ArrayRef {
        if let Some(a) = &self.cached {
            return a.clone();
        }
        let offsets = ScalarBuffer::<i32>::new(self.offsets.share(), 0, self.len + 1);
        // SAFETY: the offsets start at 0 (written by `new`), never
        // decrease (each `push` appends the previous end plus a length)
        // and end at the data length (the last `push` wrote it after
        // appending its bytes).
        let offsets = unsafe { OffsetBuffer::new_unchecked(offsets) };
        // SAFETY: the offsets are valid for the data (above), and every
        // entry between two offsets is a whole `&str` (`push` takes
        // `&str`), so the data is UTF-8 split on character boundaries.
        let a: ArrayRef =
            Arc::new(unsafe { StringArray::new_unchecked(offsets, self.data.share(), None) });
        self.cached = Some(a.clone());
        a
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
        let first = d.values();
        assert!(Arc::ptr_eq(&first, &d.values()), "cached until it grows");
        // Enough entries to move to larger allocations several times.
        for i in 0..10_000 {
            d.push(&format!("sym{i}")).unwrap();
        }
        let second = d.values();
        assert_eq!(d.get(2), Some("ü"));
        assert_eq!(d.get(10_002), Some("sym9999"));
        assert_eq!(d.get(10_003), None);
        d.clear();
        assert!(d.is_empty());
        d.push("new").unwrap();
        let third = d.values();
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
        let v = d.values();
        assert_eq!(v.len(), 0);
        v.to_data().validate_full().unwrap();
        assert_eq!(d.get(0), None);
    }
}
