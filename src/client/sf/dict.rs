//! The symbol dictionary of a disk slot: the file `dict` next to the
//! segments.
//!
//! Frames hold SYMBOL values as ids into the sender's dictionary, and each
//! frame's delta section carries only the strings new at that frame. A
//! frame replayed on a new connection (or by a new process) therefore
//! needs every string below its ids, including strings that came with
//! frames acknowledged and deleted long ago. The slot keeps them in an
//! append-only file:
//!
//! ```text
//! header: b"QASFDIC1"
//! record: u32 LE byte length | u32 LE CRC-32 of (length ++ id ++ bytes)
//!         | u32 LE id | UTF-8 bytes
//! ```
//!
//! Ids start at 0 and grow by one per record. Entries are written (and,
//! with `sf_durability=periodic`, `fsync`ed) before the frames that use
//! them, so a crash can leave strings no frame uses (harmless: the next
//! sender takes them up with the same ids) but never a frame without its
//! strings. On open, a torn or corrupt tail is cut at the last good
//! record, with a warning.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// The dictionary file's name in a slot.
pub const DICT_FILE: &str = "dict";
const DICT_MAGIC: &[u8; 8] = b"QASFDIC1";
const RECORD_HEADER: usize = 12;

fn record_crc(id: u32, bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&(bytes.len() as u32).to_le_bytes());
    h.update(&id.to_le_bytes());
    h.update(bytes);
    h.finalize()
}

/// Appends the records of `entries`, ids from `first_id`, to `out`.
pub fn encode_entries(first_id: u32, entries: &[String], out: &mut Vec<u8>) {
    for (id, s) in (first_id..).zip(entries) {
        let b = s.as_bytes();
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(&record_crc(id, b).to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(b);
    }
}

/// A whole dictionary file holding `entries`.
pub fn encode_dict(entries: &[String]) -> Vec<u8> {
    let mut v = DICT_MAGIC.to_vec();
    encode_entries(0, entries, &mut v);
    v
}

/// Reads dictionary entries from a file's bytes: the good entries and,
/// when the bytes do not end cleanly after them, the offset where the
/// good part ends and why. Never panics.
pub fn scan_dict(bytes: &[u8]) -> (Vec<String>, Option<(usize, String)>) {
    let mut out = Vec::new();
    if bytes.len() < DICT_MAGIC.len() || &bytes[..DICT_MAGIC.len()] != DICT_MAGIC {
        return (out, Some((0, "missing or bad header".to_string())));
    }
    let mut pos = DICT_MAGIC.len();
    while pos < bytes.len() {
        let Some(h) = bytes.get(pos..pos + RECORD_HEADER) else {
            return (out, Some((pos, "torn record header".to_string())));
        };
        let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (len, crc, id) = (word(0) as usize, word(4), word(8));
        if id as usize != out.len() {
            return (out, Some((pos, format!("entry id {id} out of sequence"))));
        }
        let Some(s) = bytes.get(pos + RECORD_HEADER..pos + RECORD_HEADER + len) else {
            return (out, Some((pos, format!("torn entry {id}"))));
        };
        if record_crc(id, s) != crc {
            return (out, Some((pos, format!("entry {id} fails its checksum"))));
        }
        let Ok(s) = std::str::from_utf8(s) else {
            return (out, Some((pos, format!("entry {id} is not UTF-8"))));
        };
        out.push(s.to_string());
        pos += RECORD_HEADER + len;
    }
    (out, None)
}

/// The open dictionary file of a locked slot.
#[derive(Debug)]
pub(super) struct DictLog {
    file: File,
    entries: u32,
    buf: Vec<u8>,
}

fn io_err(what: String, e: std::io::Error) -> Error {
    Error::wrap(ErrorKind::Io, what, e)
}

impl DictLog {
    /// Opens (creating) `<slot>/dict`, returning its entries; a bad tail
    /// is cut off and described in the returned warning.
    pub(super) fn open(slot: &Path) -> Result<(DictLog, Vec<String>, Option<String>)> {
        let path = slot.join(DICT_FILE);
        let what = || format!("store-and-forward dictionary {}", path.display());
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_err(what(), e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_err(what(), e))?;
        let (entries, bad) = if bytes.is_empty() {
            (Vec::new(), Some((0, String::new())))
        } else {
            scan_dict(&bytes)
        };
        let mut warning = None;
        if let Some((end, why)) = bad {
            // Cut the file after its last good record (a fresh file gets
            // its header).
            let end = end.max(DICT_MAGIC.len());
            if !why.is_empty() {
                warning = Some(format!(
                    "{}: {why} at byte {end}; kept {} entries, cut the rest ({} bytes)",
                    what(),
                    entries.len(),
                    bytes.len().saturating_sub(end)
                ));
            }
            file.set_len(0).map_err(|e| io_err(what(), e))?;
            file.seek(SeekFrom::Start(0))
                .map_err(|e| io_err(what(), e))?;
            file.write_all(DICT_MAGIC).map_err(|e| io_err(what(), e))?;
            let keep = bytes.get(DICT_MAGIC.len()..end).unwrap_or_default();
            file.write_all(keep).map_err(|e| io_err(what(), e))?;
        }
        file.seek(SeekFrom::End(0)).map_err(|e| io_err(what(), e))?;
        let log = DictLog {
            file,
            entries: entries.len() as u32,
            buf: Vec::new(),
        };
        Ok((log, entries, warning))
    }

    /// Appends `entries` (ids from the file's count on) in one write;
    /// `fsync`s with `sync`.
    pub(super) fn append(&mut self, entries: &[String], sync: bool) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        encode_entries(self.entries, entries, &mut self.buf);
        let id = self.entries + entries.len() as u32;
        let res = self
            .file
            .write_all(&self.buf)
            .and_then(|()| if sync { self.file.sync_data() } else { Ok(()) });
        res.map_err(|e| io_err("store-and-forward dictionary: append".to_string(), e))?;
        self.entries = id;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(entries: &[&str]) -> Vec<u8> {
        encode_dict(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn every_cut_keeps_a_prefix_and_garbling_stops_at_the_bad_entry() {
        let full = file_of(&["AAPL", "", "MSFT", "é"]);
        assert_eq!(
            scan_dict(&full),
            (
                vec!["AAPL".into(), "".into(), "MSFT".into(), "é".into()],
                None
            )
        );
        let want = ["AAPL", "", "MSFT", "é"];
        // Clean ends: after the header and after each record.
        let mut ends = vec![8];
        for s in want {
            ends.push(ends[ends.len() - 1] + 12 + s.len());
        }
        for cut in 0..full.len() {
            let (got, bad) = scan_dict(&full[..cut]);
            assert_eq!(bad.is_none(), ends.contains(&cut), "cut {cut}");
            assert_eq!(got, want[..got.len()].to_vec(), "cut {cut}");
        }
        for i in 8..full.len() {
            let mut g = full.clone();
            g[i] ^= 0x40;
            let (got, bad) = scan_dict(&g);
            assert!(bad.is_some(), "byte {i}");
            assert!(got.len() < 4);
        }
    }

    #[test]
    fn the_log_reopens_with_its_entries_and_cuts_a_torn_tail() {
        let dir = super::super::tests::TestDir::new("dict");
        let (mut log, got, warn) = DictLog::open(dir.path()).unwrap();
        assert!(got.is_empty() && warn.is_none());
        log.append(&["a".into(), "bb".into()], false).unwrap();
        log.append(&["ccc".into()], true).unwrap();
        drop(log);
        let (_, got, warn) = DictLog::open(dir.path()).unwrap();
        assert_eq!(got, vec!["a", "bb", "ccc"]);
        assert!(warn.is_none());
        // Tear the last record: the reopen keeps the first two and says so.
        let p = dir.path().join(DICT_FILE);
        let len = std::fs::metadata(&p).unwrap().len();
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(len - 1).unwrap();
        drop(f);
        let (mut log, got, warn) = DictLog::open(dir.path()).unwrap();
        assert_eq!(got, vec!["a", "bb"]);
        assert!(warn.unwrap().contains("torn entry 2"));
        // Appends continue from the cut, with the right ids.
        log.append(&["d".into()], false).unwrap();
        drop(log);
        let (_, got, warn) = DictLog::open(dir.path()).unwrap();
        assert_eq!(got, vec!["a", "bb", "d"]);
        assert!(warn.is_none());
    }
}
