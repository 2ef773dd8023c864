//! The acknowledgement file rewritten in place ([`super::slot::AckFile`]).

use std::fs;
use std::path::PathBuf;

use super::slot::{AckFile, read_ack};
use super::tests::TestDir;
use super::*;

#[test]
fn the_ack_file_is_rewritten_in_place_and_read_back() {
    let d = TestDir::new("ack-inplace");
    let mut f = AckFile::default();
    assert_eq!(read_ack(d.path()), Ok(None));
    for fsn in [1u64, 7, 1 << 40, 3] {
        f.write(d.path(), fsn).unwrap();
        assert_eq!(read_ack(d.path()), Ok(Some(fsn)));
    }
    assert_eq!(fs::read(d.path().join("ack")).unwrap().len(), 20);
}

/// A slot `s` in a new directory holding frames 1 to `frames`, those up
/// to `acked` acknowledged (0: none); its options and its directory.
fn slot_with(name: &str, frames: u64, acked: u64) -> (TestDir, SfOptions, PathBuf) {
    let d = TestDir::new(name);
    let opts = SfOptions::disk(d.path(), "s");
    {
        let (q, _) = SfQueue::open(opts.clone()).unwrap();
        for _ in 0..frames {
            q.append(b"frame").unwrap();
        }
        q.ack(acked).unwrap();
    }
    let slot = d.path().join("s");
    (d, opts, slot)
}

#[test]
fn a_longer_corrupt_ack_file_is_cut_to_size_by_the_next_ack() {
    let (_d, opts, slot) = slot_with("ack-longer", 3, 0);
    fs::write(slot.join("ack"), [0xAB; 100]).unwrap();
    {
        let (q, rec) = SfQueue::open(opts.clone()).unwrap();
        assert!(
            rec.warnings.iter().any(|w| w.contains("corrupt")),
            "{rec:?}"
        );
        assert_eq!(rec.frames, 3);
        q.ack(2).unwrap();
    }
    assert_eq!(read_ack(&slot), Ok(Some(2)));
    let (q, rec) = SfQueue::open(opts).unwrap();
    assert!(rec.warnings.is_empty(), "{rec:?}");
    assert_eq!(q.acked_fsn().unwrap(), 2);
    assert_eq!(rec.frames, 1);
}

#[test]
fn a_torn_ack_write_replays_from_the_oldest_segment() {
    let (_d, opts, slot) = slot_with("ack-torn", 4, 3);
    // A crash part-way through the in-place write: the FSN bytes changed,
    // the CRC did not.
    let mut bytes = fs::read(slot.join("ack")).unwrap();
    bytes[8] ^= 0x04;
    fs::write(slot.join("ack"), &bytes).unwrap();
    let (q, rec) = SfQueue::open(opts).unwrap();
    assert!(
        rec.warnings.iter().any(|w| w.contains("corrupt")),
        "{rec:?}"
    );
    assert_eq!(q.acked_fsn().unwrap(), 0);
    assert_eq!(rec.frames, 4);
}
