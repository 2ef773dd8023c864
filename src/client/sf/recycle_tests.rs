//! Tests of segment recycling: an acknowledged segment file becomes the
//! spare and then the next segment; its old bytes are never replayed, a
//! crash at any step recovers exactly the unacknowledged frames, and the
//! byte limit counts the spare.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use super::segment::{
    self, END_MARK, ScanStop, encode_header, encode_record, scan_segment, segment_fsn, segment_name,
};
use super::tests::TestDir;
use super::*;

const SPARE: &str = "spare-0";
const SPARE1: &str = "spare-1";

/// Frame `i` of `len` bytes, its content telling `i` apart.
fn frame(i: u64, len: usize) -> Vec<u8> {
    (0..len).map(|k| (k as u64 * 7 + i * 13) as u8).collect()
}

fn opts(dir: &Path) -> SfOptions {
    SfOptions {
        max_segment_bytes: 600,
        append_deadline: Duration::from_millis(200),
        ..SfOptions::disk(dir, "r")
    }
}

/// `(name, length)` of the slot's segment files and spare, sorted.
fn files(slot: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = fs::read_dir(slot)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                e.metadata().unwrap().len(),
            )
        })
        .filter(|(n, _)| n.starts_with("spare-") || segment_fsn(n).is_some())
        .collect();
    v.sort();
    v
}

/// Bytes of the segment files and the spare: what `used_bytes` counts.
fn disk_bytes(slot: &Path) -> u64 {
    files(slot).iter().map(|(_, l)| l).sum()
}

/// Whether a `.corrupt` file is in the slot.
fn has_corrupt(slot: &Path) -> bool {
    fs::read_dir(slot).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".corrupt")
    })
}

fn ino(p: &Path) -> u64 {
    fs::metadata(p).unwrap().ino()
}

fn unacked(q: &SfQueue) -> Vec<(u64, Vec<u8>)> {
    q.unacked().unwrap().map(Result::unwrap).collect()
}

#[test]
fn an_acknowledged_segment_becomes_the_next_one() {
    let d = TestDir::new("recycle");
    let slot = d.path().join("r");
    let (q, _) = SfQueue::open(opts(d.path())).unwrap();
    // Five 100-byte frames fill the first segment (16 + 5 * 116 bytes).
    for i in 1..=5 {
        q.append(&frame(i, 100)).unwrap();
    }
    q.append(&frame(6, 100)).unwrap();
    let first = slot.join(segment_name(1));
    let first_ino = ino(&first);
    assert_eq!(q.used_bytes().unwrap(), disk_bytes(&slot));
    q.ack(5).unwrap();
    assert!(!first.exists());
    assert_eq!(ino(&slot.join(SPARE)), first_ino, "kept as the spare");
    assert_eq!(
        q.used_bytes().unwrap(),
        disk_bytes(&slot),
        "the spare counts"
    );
    // Segment 6 fills up; a small frame starts the next segment, which
    // is the spare rewritten.
    for i in 7..=10 {
        q.append(&frame(i, 100)).unwrap();
    }
    q.append(&frame(11, 10)).unwrap();
    let seg = slot.join(segment_name(11));
    assert_eq!(ino(&seg), first_ino, "the spare became segment 11");
    assert!(!slot.join(SPARE).exists());
    assert_eq!(fs::metadata(&seg).unwrap().len(), 16 + 5 * 116);
    assert_eq!(q.used_bytes().unwrap(), disk_bytes(&slot));
    let want: Vec<_> = (6..=11)
        .map(|i| (i, frame(i, if i == 11 { 10 } else { 100 })))
        .collect();
    assert_eq!(unacked(&q), want);
    drop(q);
    // Its old bytes (frames 2 to 5) follow an end mark: never replayed.
    let bytes = fs::read(&seg).unwrap();
    let scan = scan_segment(&bytes, Some(11));
    assert!(scan.end_mark && scan.stopped.is_none(), "{scan:?}");
    assert_eq!(&bytes[42..58], &END_MARK);
    let (q, rec) = SfQueue::open(opts(d.path())).unwrap();
    assert_eq!(
        (rec.frames, rec.truncated, rec.warnings.len()),
        (6, None, 0)
    );
    assert_eq!(unacked(&q), want);
    assert_eq!(q.used_bytes().unwrap(), disk_bytes(&slot));
    assert!(!has_corrupt(&slot));
}

#[test]
fn at_most_two_spares_and_the_rest_deleted() {
    let d = TestDir::new("recycle-one");
    let slot = d.path().join("r");
    let (q, _) = SfQueue::open(opts(d.path())).unwrap();
    for i in 1..=16 {
        q.append(&frame(i, 100)).unwrap();
    }
    assert_eq!(q.used_bytes().unwrap(), disk_bytes(&slot));
    let inos = [
        ino(&slot.join(segment_name(1))),
        ino(&slot.join(segment_name(6))),
    ];
    q.ack(16).unwrap();
    // Segments 1 and 6 kept, 11 and 16 deleted.
    assert_eq!(
        files(&slot),
        vec![(SPARE.into(), 596), (SPARE1.into(), 596)]
    );
    assert_eq!([ino(&slot.join(SPARE)), ino(&slot.join(SPARE1))], inos);
    assert_eq!(q.used_bytes().unwrap(), 2 * 596);
    // Frames bigger than a segment: each goes into a spare, which grows,
    // the last spare first. Once acknowledged both are deleted, too big
    // to be kept.
    q.append(&frame(17, 2000)).unwrap();
    assert!(!slot.join(SPARE1).exists());
    assert_eq!(ino(&slot.join(segment_name(17))), inos[1]);
    q.append(&frame(18, 2000)).unwrap();
    assert!(!slot.join(SPARE).exists());
    assert_eq!(q.used_bytes().unwrap(), 2 * 2032);
    q.ack(18).unwrap();
    assert!(files(&slot).is_empty());
    assert_eq!(q.used_bytes().unwrap(), 0);
}

#[test]
fn the_spare_is_deleted_when_an_append_needs_its_room() {
    let d = TestDir::new("recycle-room");
    let slot = d.path().join("r");
    let o = SfOptions {
        max_total_bytes: 1200,
        ..opts(d.path())
    };
    let (q, _) = SfQueue::open(o.clone()).unwrap();
    for i in 1..=5 {
        q.append(&frame(i, 100)).unwrap();
    }
    q.ack(5).unwrap();
    assert_eq!(q.used_bytes().unwrap(), 596);
    // A transaction counted at its worst (a segment header per frame,
    // 2 * 432 bytes) fits only without the spare: it goes, and the
    // append does not wait for an acknowledgement.
    let big = [frame(6, 400), frame(7, 400)];
    let refs: Vec<&[u8]> = big.iter().map(Vec::as_slice).collect();
    assert_eq!(q.append_group(&refs, &[]).unwrap(), 7);
    assert!(!slot.join(SPARE).exists());
    assert_eq!(q.stalls().unwrap(), 0);
    assert_eq!(q.used_bytes().unwrap(), disk_bytes(&slot));
    assert!(q.used_bytes().unwrap() <= o.max_total_bytes);
}

#[test]
fn used_bytes_are_the_files_through_many_recycles() {
    let d = TestDir::new("recycle-bytes");
    let slot = d.path().join("r");
    let o = SfOptions {
        max_total_bytes: 2000,
        ..opts(d.path())
    };
    let (mut q, _) = SfQueue::open(o.clone()).unwrap();
    let mut acked = 0;
    for i in 1..=300u64 {
        // Lengths vary so new records straddle old ones.
        let len = ((i * 37) % 150) as usize;
        assert_eq!(q.append(&frame(i, len)).unwrap(), i);
        if i % 3 == 0 {
            acked = i - 1;
            q.ack(acked).unwrap();
        }
        let used = q.used_bytes().unwrap();
        assert_eq!(used, disk_bytes(&slot), "after frame {i}");
        assert!(used <= o.max_total_bytes, "after frame {i}: {used}");
        if i % 50 == 0 {
            drop(q);
            let rec;
            (q, rec) = SfQueue::open(o.clone()).unwrap();
            assert_eq!((rec.frames, rec.truncated), (i - acked, None), "{i}");
            assert!(rec.warnings.is_empty(), "{i}: {:?}", rec.warnings);
            let want: Vec<_> = (acked + 1..=i)
                .map(|f| (f, frame(f, ((f * 37) % 150) as usize)))
                .collect();
            assert_eq!(unacked(&q), want, "after reopen at {i}");
            assert_eq!(q.used_bytes().unwrap(), disk_bytes(&slot));
        }
    }
}

/// A slot holding frames 1..=3 (acknowledged up to 1) in `seg-1`, and
/// the old bytes of a recycled file: frames 1..=8 of another life.
fn crashed_slot(root: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let slot = root.join("r");
    fs::create_dir_all(&slot).unwrap();
    let mut seg = encode_header(1).to_vec();
    for i in 1..=3 {
        encode_record(i, &frame(i, 50), &mut seg);
    }
    fs::write(slot.join(segment_name(1)), &seg).unwrap();
    slot::AckFile::default().write(&slot, 1).unwrap();
    let mut old = encode_header(1).to_vec();
    for i in 1..=8 {
        encode_record(i, &frame(100 + i, 60), &mut old);
    }
    (slot, old)
}

/// Opens the crashed slot: frames 2 and 3 and the `extra` ones (frame
/// `i` of 40 bytes) come back, with no warning, the spare is gone, and
/// the queue goes on from there.
fn check_clean_recovery(root: &Path, extra: u64, what: &str) {
    let (q, rec) = SfQueue::open(opts(root)).unwrap();
    assert_eq!(rec.truncated, None, "{what}");
    assert!(rec.warnings.is_empty(), "{what}: {:?}", rec.warnings);
    assert_eq!(rec.frames, 2 + extra, "{what}");
    let mut want = vec![(2, frame(2, 50)), (3, frame(3, 50))];
    want.extend((4..4 + extra).map(|i| (i, frame(i, 40))));
    assert_eq!(unacked(&q), want, "{what}");
    let slot = root.join("r");
    assert!(
        !slot.join(SPARE).exists() && !slot.join(SPARE1).exists(),
        "{what}"
    );
    assert!(!has_corrupt(&slot), "{what}");
    assert_eq!(q.used_bytes().unwrap(), disk_bytes(&slot), "{what}");
    assert_eq!(q.append(b"next").unwrap(), 4 + extra, "{what}");
    drop(q);
    let (q, rec) = SfQueue::open(opts(root)).unwrap();
    assert_eq!((rec.frames, rec.truncated), (3 + extra, None), "{what}");
    assert_eq!(unacked(&q).last().unwrap().1, b"next", "{what}");
}

#[test]
fn a_crash_before_the_spare_is_renamed_loses_nothing() {
    // Left as the spare, or with its new header written but not renamed.
    for header in [None, Some(4)] {
        let d = TestDir::new("crash-spare");
        let (slot, mut old) = crashed_slot(d.path());
        if let Some(fsn) = header {
            old[..16].copy_from_slice(&encode_header(fsn));
            old[16..32].copy_from_slice(&END_MARK);
        }
        fs::write(slot.join(SPARE), &old).unwrap();
        fs::write(slot.join(SPARE1), &old).unwrap();
        check_clean_recovery(d.path(), 0, &format!("spare, header {header:?}"));
    }
}

#[test]
fn a_crash_in_a_recycled_segment_recovers_its_records_only() {
    // seg-4 made from the spare, then `n` records of 40 bytes written
    // over the old ones, each followed by an end mark; `torn`: the next
    // record's payload and mark are written too, not its header.
    for n in 0..=3u64 {
        for torn in [false, true] {
            let d = TestDir::new("crash-recycled");
            let (slot, mut old) = crashed_slot(d.path());
            let mut new = encode_header(4).to_vec();
            for i in 4..4 + n {
                encode_record(i, &frame(i, 40), &mut new);
            }
            new.extend_from_slice(&END_MARK);
            if torn {
                let at = new.len();
                new.extend_from_slice(&frame(4 + n, 40));
                new.extend_from_slice(&END_MARK);
                // Its header is still the mark before it.
                assert_eq!(&new[at - 16..at], &END_MARK);
            }
            old[..new.len()].copy_from_slice(&new);
            fs::write(slot.join(segment_name(4)), &old).unwrap();
            let what = format!("{n} records, torn {torn}");
            let scan = scan_segment(&old, Some(4));
            assert!(scan.end_mark && scan.stopped.is_none(), "{what}");
            check_clean_recovery(d.path(), n, &what);
        }
    }
}

#[test]
fn a_recycled_segment_with_its_old_header_is_cut_not_fatal() {
    // Only after a power loss: the rename reached the disk, the header
    // rewritten before it did not. Its records cannot be trusted.
    let d = TestDir::new("crash-old-header");
    let (slot, old) = crashed_slot(d.path());
    fs::write(slot.join(segment_name(4)), &old).unwrap();
    let scan = scan_segment(&old, Some(4));
    assert_eq!(
        scan.stopped,
        Some(ScanStop::HeaderFsn {
            expected: 4,
            found: 1
        })
    );
    let (q, rec) = SfQueue::open(opts(d.path())).unwrap();
    assert_eq!(rec.frames, 2);
    assert!(rec.truncated.is_some_and(|t| t.contains(".corrupt")));
    assert_eq!(unacked(&q), vec![(2, frame(2, 50)), (3, frame(3, 50))]);
    assert_eq!(q.append(b"next").unwrap(), 4);
}

#[test]
fn old_records_never_pass_for_new_ones() {
    // Without the mark, an old record with a good checksum right after
    // the new ones still stops the scan: its FSN is below the new ones.
    let mut seg = encode_header(9).to_vec();
    encode_record(9, b"new", &mut seg);
    encode_record(5, b"old", &mut seg);
    let scan = scan_segment(&seg, Some(9));
    assert_eq!(scan.records.len(), 1);
    assert!(matches!(
        scan.stopped,
        Some(ScanStop::FsnOutOfSequence { found: 5, .. })
    ));
}

#[test]
fn a_record_written_in_chunks_is_the_encoded_record() {
    // With `end_mark` (old bytes follow) the mark comes right after it.
    for end_mark in [false, true] {
        for len in [0usize, 3, (128 << 10) - 1, 128 << 10, (3 << 17) + 5] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            let mut want = vec![0xEE; 16];
            encode_record(9, &payload, &mut want);
            let mut file = std::io::Cursor::new(vec![0xEE; 16]);
            if end_mark {
                want.extend_from_slice(&END_MARK);
                want.extend_from_slice(&[0xEE; 40]);
                file.get_mut().resize(want.len(), 0xEE);
            }
            segment::write_record(&mut file, 16, 9, &payload, end_mark).unwrap();
            assert!(file.into_inner() == want, "len {len}, mark {end_mark}");
        }
    }
}

/// Whether each segment of `q`'s disk store is written through a map.
fn mapped(q: &SfQueue) -> Vec<bool> {
    match &q.state.lock().unwrap().store {
        Store::Disk(d) => d.mapped(),
        Store::Memory(_) => panic!("a disk queue"),
    }
}

/// Frames 1..=10 of 100 bytes, 5 acknowledged: segment 1 is the spare,
/// segment 6 full, none mapped (new files); frame 11 goes to the spare.
fn up_to_the_spare(q: &SfQueue) {
    (1..=6).for_each(|i| assert_eq!(q.append(&frame(i, 100)).unwrap(), i));
    q.ack(5).unwrap();
    (7..=10).for_each(|i| assert_eq!(q.append(&frame(i, 100)).unwrap(), i));
    assert_eq!(mapped(q), [false], "new files are written");
}

/// A recycled segment is written through its map while its records fit
/// the old file; a record that grows the file drops the map and is
/// written as before; the bytes are the same either way (read back, and
/// after a reopen). With periodic `fsync`s nothing is mapped.
#[test]
fn a_recycled_segment_is_written_through_its_map_until_it_grows() {
    let d = TestDir::new("recycle-map");
    let slot = d.path().join("r");
    let (q, _) = SfQueue::open(opts(d.path())).unwrap();
    up_to_the_spare(&q);
    // Segment 11 is the spare (596 bytes): mapped.
    q.append(&frame(11, 10)).unwrap();
    q.append(&frame(12, 200)).unwrap();
    assert_eq!(mapped(&q), [false, true]);
    let seg = slot.join(segment_name(11));
    assert_eq!(fs::metadata(&seg).unwrap().len(), 16 + 5 * 116);
    // 16 + 26 + 216 + 336 = 594 fits the segment (600), but its end mark
    // runs past the old 596 bytes.
    q.append(&frame(13, 320)).unwrap();
    assert_eq!(mapped(&q), [false, false], "the file grew: unmapped");
    assert_eq!(fs::metadata(&seg).unwrap().len(), 594 + 16);
    let len = |i| match i {
        11 => 10,
        12 => 200,
        13 => 320,
        _ => 100,
    };
    let want: Vec<_> = (6..=13).map(|i| (i, frame(i, len(i)))).collect();
    assert_eq!(unacked(&q), want);
    drop(q);
    let bytes = fs::read(&seg).unwrap();
    let scan = scan_segment(&bytes, Some(11));
    assert_eq!((scan.records.len(), scan.stopped), (3, None));
    let (q, rec) = SfQueue::open(opts(d.path())).unwrap();
    assert_eq!((rec.frames, rec.truncated), (8, None));
    assert_eq!(unacked(&q), want);
    assert!(!has_corrupt(&slot));
    drop(q);

    let d = TestDir::new("recycle-map-periodic");
    let o = SfOptions {
        durability: SfDurability::Periodic,
        ..opts(d.path())
    };
    let (q, _) = SfQueue::open(o).unwrap();
    up_to_the_spare(&q);
    q.append(&frame(11, 10)).unwrap();
    assert_eq!(mapped(&q), [false, false], "periodic: never mapped");
    assert!(d.path().join("r").join(segment_name(11)).exists());
    assert_eq!(unacked(&q).len(), 6);
}
