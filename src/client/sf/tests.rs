//! Tests of the store-and-forward queue: both modes, rotation, recovery
//! from torn and garbled tails, slot locking, backpressure, orphans.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::segment::{self, ScanStop, encode_header, encode_record, scan_segment, segment_name};
use super::*;

/// A fresh directory, removed on drop.
pub(super) struct TestDir(PathBuf);

impl TestDir {
    pub(super) fn new(name: &str) -> TestDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let d = std::env::temp_dir().join(format!(
            "qa-sf-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        TestDir(d)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Frame `i`'s bytes: distinct, of varying length.
fn frame(i: u64) -> Vec<u8> {
    format!("frame-{i};")
        .repeat((i % 5 + 1) as usize)
        .into_bytes()
}

/// Disk options with small segments.
fn disk(dir: &Path, id: &str) -> SfOptions {
    SfOptions {
        max_segment_bytes: 120,
        append_deadline: Duration::from_secs(5),
        ..SfOptions::disk(dir, id)
    }
}

fn all_unacked(q: &SfQueue) -> Vec<(u64, Vec<u8>)> {
    q.unacked().unwrap().map(Result::unwrap).collect()
}

fn expect_frames(q: &SfQueue, fsns: std::ops::RangeInclusive<u64>) {
    let want: Vec<(u64, Vec<u8>)> = fsns.map(|f| (f, frame(f))).collect();
    assert_eq!(all_unacked(q), want);
}

fn segments(slot: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = fs::read_dir(slot)
        .unwrap()
        .filter_map(|e| segment::segment_fsn(e.unwrap().file_name().to_str()?))
        .collect();
    v.sort();
    v
}

fn append_n(q: &SfQueue, from: u64, to: u64) {
    for i in from..=to {
        assert_eq!(q.append(&frame(i)).unwrap(), i);
    }
}

fn check_append_ack_replay(opts: SfOptions) {
    let (q, rec) = SfQueue::open(opts).unwrap();
    assert_eq!(rec, Recovered::default());
    assert_eq!(q.next_fsn().unwrap(), 1);
    assert_eq!(q.acked_fsn().unwrap(), 0);
    append_n(&q, 1, 5);
    assert_eq!(q.pending_frames().unwrap(), 5);
    let bytes: u64 = (1..=5).map(|i| frame(i).len() as u64).sum();
    assert_eq!(q.pending_bytes().unwrap(), bytes);
    expect_frames(&q, 1..=5);
    q.ack(2).unwrap();
    assert_eq!(q.acked_fsn().unwrap(), 2);
    assert_eq!(q.pending_frames().unwrap(), 3);
    assert_eq!(
        q.pending_bytes().unwrap(),
        bytes - frame(1).len() as u64 - frame(2).len() as u64
    );
    expect_frames(&q, 3..=5);
    q.ack(1).unwrap(); // below the watermark: no-op
    assert_eq!(q.acked_fsn().unwrap(), 2);
    let e = q.ack(6).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    q.ack(5).unwrap();
    assert_eq!(q.pending_frames().unwrap(), 0);
    assert_eq!(q.pending_bytes().unwrap(), 0);
    assert!(all_unacked(&q).is_empty());
    assert_eq!(q.append(b"x").unwrap(), 6);
}

#[test]
fn memory_append_ack_replay() {
    check_append_ack_replay(SfOptions::memory(1 << 20));
}

#[test]
fn disk_append_ack_replay() {
    let d = TestDir::new("basic");
    check_append_ack_replay(disk(d.path(), "s1"));
}

#[test]
fn memory_used_bytes_are_the_payloads() {
    let (q, _) = SfQueue::open(SfOptions::memory(1 << 20)).unwrap();
    q.append(&[0; 10]).unwrap();
    q.append(&[0; 7]).unwrap();
    assert_eq!(q.used_bytes().unwrap(), 17);
    q.ack(1).unwrap();
    assert_eq!(q.used_bytes().unwrap(), 7);
}

#[test]
fn rotation_keeps_fsn_order_across_segments_and_reopen() {
    let d = TestDir::new("rotate");
    let slot = d.path().join("s");
    {
        let (q, _) = SfQueue::open(disk(d.path(), "s")).unwrap();
        append_n(&q, 1, 20);
        // A frame bigger than a segment gets a segment of its own.
        assert_eq!(q.append(&[7u8; 500]).unwrap(), 21);
        append_n_from(&q, 22, 25);
        let segs = segments(&slot);
        assert!(segs.len() > 5, "{segs:?}");
        assert_eq!(segs[0], 1);
        assert!(segs.contains(&21) && segs.contains(&22), "{segs:?}");
        for s in &segs {
            let bytes = fs::read(slot.join(segment_name(*s))).unwrap();
            let scan = scan_segment(&bytes, Some(*s));
            assert_eq!(scan.stopped, None);
            assert_eq!(scan.records[0].fsn, *s);
            assert!(bytes.len() <= 120 || scan.records.len() == 1);
        }
        let got = all_unacked(&q);
        assert_eq!(got.len(), 25);
        assert!(got.iter().enumerate().all(|(i, (f, _))| *f == i as u64 + 1));
        assert_eq!(got[20].1, vec![7u8; 500]);
    }
    let (q, rec) = SfQueue::open(disk(d.path(), "s")).unwrap();
    assert_eq!(rec.frames, 25);
    assert_eq!(rec.truncated, None);
    let got = all_unacked(&q);
    assert_eq!(got.len(), 25);
    assert_eq!(got[0], (1, frame(1)));
    assert_eq!(got[20], (21, vec![7u8; 500]));
    assert_eq!(got[24], (25, frame(25)));
}

fn append_n_from(q: &SfQueue, from: u64, to: u64) {
    append_n(q, from, to);
}

#[test]
fn segments_are_at_most_half_of_the_cap() {
    let d = TestDir::new("half");
    let o = SfOptions {
        max_total_bytes: 480,
        append_deadline: Duration::from_millis(100),
        ..SfOptions::disk(d.path(), "s")
    };
    assert_eq!(SfOptions::disk(d.path(), "s").segment_bytes(), 64 << 20);
    assert_eq!(o.segment_bytes(), 240);
    // The default 64 MiB segments under a 480-byte cap: rotated at 240.
    let (q, _) = SfQueue::open(o).unwrap();
    append_n(&q, 1, 6);
    assert!(segments(&d.path().join("s")).len() >= 2);
    assert!(q.used_bytes().unwrap() <= 480);
}

#[test]
fn connect_string_sets_the_segment_size() {
    use crate::client::delivery::sf_options;
    use crate::conf::Conf;
    let opts = |keys: &str| {
        let c = Conf::parse(&format!("ws::addr=localhost:9000;sf_dir=/tmp/x;{keys}")).unwrap();
        sf_options(&c).segment_bytes()
    };
    assert_eq!(opts(""), 64 << 20);
    assert_eq!(opts("sf_max_segment_bytes=16k;"), 16 << 10);
    // Half of the cap when that is less.
    assert_eq!(
        opts("sf_max_segment_bytes=16k;sf_max_total_bytes=20k;"),
        10 << 10
    );
}

#[test]
fn ack_deletes_whole_segments_only() {
    let d = TestDir::new("ackdel");
    let slot = d.path().join("s");
    let (q, _) = SfQueue::open(disk(d.path(), "s")).unwrap();
    append_n(&q, 1, 30);
    let segs = segments(&slot);
    let used = q.used_bytes().unwrap();
    // Acknowledge up to the last frame of the second segment.
    q.ack(segs[2] - 1).unwrap();
    assert_eq!(segments(&slot), segs[2..].to_vec());
    // Both files are kept as the spares: their bytes still count.
    assert_eq!(q.used_bytes().unwrap(), used);
    // Acknowledging part of a segment keeps it.
    q.ack(segs[2]).unwrap();
    assert_eq!(segments(&slot), segs[2..].to_vec());
    expect_frames(&q, segs[2] + 1..=30);
    q.ack(30).unwrap();
    assert!(segments(&slot).is_empty());
    // Two files are kept to be recycled, and counted.
    let spares: u64 = ["spare-0", "spare-1"]
        .iter()
        .map(|f| fs::metadata(slot.join(f)).unwrap().len())
        .sum();
    assert_eq!(q.used_bytes().unwrap(), spares);
    // FSNs go on after everything was deleted, in this queue and the next.
    assert_eq!(q.append(&frame(31)).unwrap(), 31);
    assert_eq!(segments(&slot), vec![31]);
    q.ack(31).unwrap();
    drop(q);
    let (q, rec) = SfQueue::open(disk(d.path(), "s")).unwrap();
    assert_eq!(rec.frames, 0);
    assert_eq!(q.next_fsn().unwrap(), 32);
    assert_eq!(q.acked_fsn().unwrap(), 31);
}

#[test]
fn reopen_replays_exactly_the_unacked_frames() {
    let d = TestDir::new("reopen");
    {
        let (q, _) = SfQueue::open(disk(d.path(), "s")).unwrap();
        append_n(&q, 1, 12);
        q.ack(7).unwrap();
    } // dropped without close: what a crashed process leaves
    let (q, rec) = SfQueue::open(disk(d.path(), "s")).unwrap();
    assert_eq!(rec.frames, 5);
    assert_eq!(
        rec.bytes,
        (8..=12).map(|i| frame(i).len() as u64).sum::<u64>()
    );
    assert_eq!(rec.truncated, None);
    assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
    assert_eq!(q.acked_fsn().unwrap(), 7);
    assert_eq!(q.next_fsn().unwrap(), 13);
    expect_frames(&q, 8..=12);
    assert_eq!(q.append(&frame(13)).unwrap(), 13);
    q.ack(9).unwrap();
    drop(q);
    let (q, rec) = SfQueue::open(disk(d.path(), "s")).unwrap();
    assert_eq!(rec.frames, 4);
    expect_frames(&q, 10..=13);
}

#[test]
fn corrupt_ack_file_replays_more_never_less() {
    let d = TestDir::new("ackfile");
    {
        let (q, _) = SfQueue::open(disk(d.path(), "s")).unwrap();
        append_n(&q, 1, 20);
        q.ack(12).unwrap();
    }
    let slot = d.path().join("s");
    let first_kept = segments(&slot)[0];
    assert!(first_kept <= 13);
    fs::write(slot.join("ack"), b"garbage").unwrap();
    let (q, rec) = SfQueue::open(disk(d.path(), "s")).unwrap();
    assert_eq!(rec.truncated, None);
    assert_eq!(rec.warnings.len(), 1);
    assert!(rec.warnings[0].contains("corrupt"), "{}", rec.warnings[0]);
    assert_eq!(q.acked_fsn().unwrap(), first_kept - 1);
    expect_frames(&q, first_kept..=20);
}

#[test]
fn a_missing_unacked_segment_is_a_warning() {
    let d = TestDir::new("missing");
    let slot = d.path().join("s");
    {
        let (q, _) = SfQueue::open(disk(d.path(), "s")).unwrap();
        append_n(&q, 1, 30);
        q.ack(1).unwrap();
    }
    let segs = segments(&slot);
    assert!(segs[1] > 2);
    fs::remove_file(slot.join(segment_name(segs[0]))).unwrap();
    let (q, rec) = SfQueue::open(disk(d.path(), "s")).unwrap();
    assert_eq!(rec.truncated, None);
    assert_eq!(rec.warnings.len(), 1, "{:?}", rec.warnings);
    let w = &rec.warnings[0];
    assert!(w.contains(&format!("frames 2 to {}", segs[1] - 1)), "{w}");
    expect_frames(&q, segs[1]..=30);
}

/// A slot with frames 1..=n, at least `n` and as many as it takes to have
/// three segments, the last with three records; returns the slot dir and
/// the last segment's first FSN.
fn build_slot(root: &Path, n: u64) -> (PathBuf, u64) {
    let opts = SfOptions {
        max_segment_bytes: 240, // at least 3 frames a segment
        ..disk(root, "s")
    };
    let (q, _) = SfQueue::open(opts).unwrap();
    let slot = root.join("s");
    for i in 1.. {
        assert_eq!(q.append(&frame(i)).unwrap(), i);
        let segs = segments(&slot);
        let last = *segs.last().unwrap();
        if i >= n && segs.len() >= 3 && i + 1 - last >= 3 {
            return (slot, last);
        }
    }
    unreachable!()
}

fn copy_slot(from: &Path, root: &Path) {
    let to = root.join("s");
    fs::create_dir_all(&to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Opens the damaged copy and checks: every frame before `keep_to` (and
/// only those) recovered, truncation reported iff `truncated`, the cut
/// queue takes new frames and reopens clean.
fn check_recovery(root: &Path, keep_to: u64, truncated: bool, what: &str) {
    let (q, rec) = SfQueue::open(disk(root, "s")).unwrap();
    assert_eq!(rec.frames, keep_to, "{what}");
    assert_eq!(rec.truncated.is_some(), truncated, "{what}: {rec:?}");
    if let Some(t) = &rec.truncated {
        assert!(rec.warnings.contains(t), "{what}");
        assert!(t.contains(".corrupt"), "{what}: {t}");
    }
    expect_frames(&q, 1..=keep_to);
    assert_eq!(q.append(b"after").unwrap(), keep_to + 1, "{what}");
    drop(q);
    let (q, rec) = SfQueue::open(disk(root, "s")).unwrap();
    assert_eq!(rec.truncated, None, "{what}: second open");
    assert_eq!(rec.frames, keep_to + 1, "{what}");
    let got = all_unacked(&q);
    assert_eq!(got.last().unwrap(), &(keep_to + 1, b"after".to_vec()));
}

#[test]
fn truncation_at_every_offset_of_the_last_segment() {
    let pristine = TestDir::new("trunc-src");
    let (slot, last) = build_slot(pristine.path(), 14);
    let seg = fs::read(slot.join(segment_name(last))).unwrap();
    let scan = scan_segment(&seg, Some(last));
    assert!(scan.records.len() >= 3);
    for len in 0..seg.len() {
        let root = TestDir::new("trunc");
        copy_slot(&slot, root.path());
        let path = root.path().join("s").join(segment_name(last));
        fs::write(&path, &seg[..len]).unwrap();
        let whole = scan
            .records
            .iter()
            .filter(|r| r.end() <= len as u64)
            .count() as u64;
        let boundary = len == segment::SEGMENT_HEADER_BYTES
            || scan.records.iter().any(|r| r.end() == len as u64);
        check_recovery(
            root.path(),
            last - 1 + whole,
            !boundary,
            &format!("cut at {len}"),
        );
    }
}

#[test]
fn garbled_byte_in_the_last_record_or_header() {
    let pristine = TestDir::new("garble-src");
    let (slot, last) = build_slot(pristine.path(), 14);
    let seg = fs::read(slot.join(segment_name(last))).unwrap();
    let scan = scan_segment(&seg, Some(last));
    let rec = *scan.records.last().unwrap();
    let targets = (rec.offset as usize..seg.len()).chain(0..segment::SEGMENT_HEADER_BYTES);
    for at in targets {
        for flip in [0x01u8, 0x80, 0xFF] {
            let root = TestDir::new("garble");
            copy_slot(&slot, root.path());
            let mut bad = seg.clone();
            bad[at] ^= flip;
            fs::write(root.path().join("s").join(segment_name(last)), &bad).unwrap();
            let keep = if at < segment::SEGMENT_HEADER_BYTES {
                last - 1 // the whole last segment goes
            } else {
                rec.fsn - 1
            };
            check_recovery(root.path(), keep, true, &format!("byte {at} ^ {flip:#x}"));
        }
    }
}

#[test]
fn a_bad_middle_segment_cuts_the_queue_there() {
    let d = TestDir::new("middle");
    let (slot, _) = build_slot(d.path(), 30);
    let segs = segments(&slot);
    let mid = segs[2];
    let path = slot.join(segment_name(mid));
    let mut bytes = fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x55;
    fs::write(&path, &bytes).unwrap();
    let scan = scan_segment(&bytes, Some(mid));
    let keep = scan.records.last().map_or(mid - 1, |r| r.fsn);
    let (q, rec) = SfQueue::open(disk(d.path(), "s")).unwrap();
    assert_eq!(rec.frames, keep);
    let t = rec.truncated.unwrap();
    assert!(t.contains("checksum"), "{t}");
    expect_frames(&q, 1..=keep);
    // Later segments are moved aside, not deleted.
    let aside = fs::read_dir(&slot)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".corrupt")
        })
        .count();
    assert_eq!(aside, segs.len() - 2);
    assert_eq!(segments(&slot), segs[..3].to_vec());
}

#[test]
fn second_open_of_a_slot_fails_naming_it() {
    let d = TestDir::new("lock");
    let (q, _) = SfQueue::open(disk(d.path(), "ingest-1")).unwrap();
    let e = SfQueue::open(disk(d.path(), "ingest-1")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let msg = e.to_string();
    assert!(
        msg.contains("sender_id") && msg.contains("ingest-1"),
        "{msg}"
    );
    assert!(
        msg.contains(&d.path().join("ingest-1").display().to_string()),
        "{msg}"
    );
    // Another slot in the same directory is fine.
    SfQueue::open(disk(d.path(), "ingest-2")).unwrap();
    drop(q);
    SfQueue::open(disk(d.path(), "ingest-1")).unwrap();
}

#[test]
fn bad_options_are_config_errors_naming_the_key() {
    let d = TestDir::new("opts");
    for (opts, key) in [
        (disk(d.path(), "a/b"), "sender_id"),
        (disk(d.path(), ""), "sender_id"),
        (
            SfOptions {
                durability: SfDurability::Periodic,
                ..SfOptions::memory(10)
            },
            "sf_durability",
        ),
        (SfOptions::memory(0), "sf_max_total_bytes"),
    ] {
        let e = SfQueue::open(opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains(key), "{e}");
    }
}

#[test]
fn a_frame_that_can_never_fit_fails_at_once() {
    let (q, _) = SfQueue::open(SfOptions::memory(100)).unwrap();
    let e = q.append(&[0; 101]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("sf_max_total_bytes"), "{e}");
    assert_eq!(q.next_fsn().unwrap(), 1);
}

fn small(dir: Option<&Path>, deadline_ms: u64) -> SfOptions {
    let base = match dir {
        Some(d) => SfOptions {
            max_segment_bytes: 16 + 2 * (16 + 40),
            ..SfOptions::disk(d, "s")
        },
        None => SfOptions::memory(0),
    };
    SfOptions {
        // Memory: 4 frames of 40 bytes. Disk: two segments of two frames.
        max_total_bytes: if dir.is_some() {
            2 * (16 + 2 * (16 + 40))
        } else {
            160
        },
        append_deadline: Duration::from_millis(deadline_ms),
        ..base
    }
}

fn check_blocks_until_ack(opts: SfOptions) {
    let (q, _) = SfQueue::open(opts).unwrap();
    for i in 1..=4 {
        assert_eq!(q.append(&[i as u8; 40]).unwrap(), i);
    }
    let started = Instant::now();
    let fsn = thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(150));
            q.ack(2).unwrap();
        });
        q.append(&[5; 40]).unwrap()
    });
    assert_eq!(fsn, 5);
    // It could only fit once frames 1 and 2 were acknowledged.
    assert_eq!(q.acked_fsn().unwrap(), 2);
    assert!(started.elapsed() < Duration::from_secs(20));
    let got: Vec<u64> = all_unacked(&q).into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, vec![3, 4, 5]);
}

#[test]
fn full_memory_queue_blocks_until_an_ack() {
    check_blocks_until_ack(small(None, 30_000));
}

#[test]
fn full_disk_queue_blocks_until_an_ack() {
    let d = TestDir::new("bp");
    check_blocks_until_ack(small(Some(d.path()), 30_000));
}

fn check_deadline(opts: SfOptions, reopen: bool) {
    let (q, _) = SfQueue::open(opts.clone()).unwrap();
    for i in 1..=4 {
        q.append(&[i as u8; 40]).unwrap();
    }
    let started = Instant::now();
    let e = q.append(&[9; 40]).unwrap_err();
    let waited = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    let msg = e.to_string();
    assert!(
        msg.contains("sf_max_total_bytes") && msg.contains("sf_append_deadline_millis=200"),
        "{msg}"
    );
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    assert!(waited < Duration::from_secs(20), "{waited:?}");
    let want: Vec<(u64, Vec<u8>)> = (1..=4).map(|i| (i, vec![i as u8; 40])).collect();
    assert_eq!(all_unacked(&q), want);
    assert_eq!(q.next_fsn().unwrap(), 5);
    if reopen {
        drop(q);
        let (q, rec) = SfQueue::open(opts).unwrap();
        assert_eq!(rec.frames, 4);
        assert_eq!(all_unacked(&q), want);
    }
}

#[test]
fn full_memory_queue_fails_after_the_deadline_keeping_everything() {
    check_deadline(small(None, 200), false);
}

#[test]
fn full_disk_queue_fails_after_the_deadline_keeping_everything() {
    let d = TestDir::new("deadline");
    check_deadline(small(Some(d.path()), 200), true);
}

#[test]
fn orphans_are_free_slots_with_frames() {
    let d = TestDir::new("orphans");
    let (live, _) = SfQueue::open(disk(d.path(), "live")).unwrap();
    live.append(b"x").unwrap();
    {
        let (dead, _) = SfQueue::open(disk(d.path(), "dead")).unwrap();
        dead.append(b"y").unwrap();
        let (done, _) = SfQueue::open(disk(d.path(), "done")).unwrap();
        done.append(b"z").unwrap();
        done.ack(1).unwrap();
        let (_empty, _) = SfQueue::open(disk(d.path(), "empty")).unwrap();
    }
    fs::create_dir_all(d.path().join("not a slot")).unwrap();
    fs::write(d.path().join("stray-file"), b"").unwrap();
    assert_eq!(
        orphan_slots(d.path(), None).unwrap(),
        vec!["dead".to_owned()]
    );
    assert!(orphan_slots(d.path(), Some("dead")).unwrap().is_empty());
    assert!(
        orphan_slots(&d.path().join("missing"), None)
            .unwrap()
            .is_empty()
    );
    // Adopting it replays its frame.
    let (q, rec) = SfQueue::open(disk(d.path(), "dead")).unwrap();
    assert_eq!(rec.frames, 1);
    assert_eq!(all_unacked(&q), vec![(1, b"y".to_vec())]);
    assert!(orphan_slots(d.path(), None).unwrap().is_empty());
}

#[test]
fn cursor_waits_for_frames_and_rewinds() {
    let (q, _) = SfQueue::open(SfOptions::memory(1 << 20)).unwrap();
    let mut buf = Vec::new();
    thread::scope(|s| {
        let mut c = q.unacked().unwrap();
        s.spawn(|| {
            thread::sleep(Duration::from_millis(50));
            q.append(b"one").unwrap();
            q.append(b"two").unwrap();
        });
        assert_eq!(
            c.wait_frame(&mut buf, Some(Duration::from_secs(20)))
                .unwrap(),
            Some(1)
        );
        assert_eq!(buf, b"one");
        assert_eq!(
            c.wait_frame(&mut buf, Some(Duration::from_secs(20)))
                .unwrap(),
            Some(2)
        );
        assert_eq!(
            c.wait_frame(&mut buf, Some(Duration::from_millis(10)))
                .unwrap(),
            None
        );
        q.ack(1).unwrap();
        c.rewind().unwrap();
        assert_eq!(c.position(), 2);
        assert_eq!(c.next_frame(&mut buf).unwrap(), Some(2));
        assert_eq!(buf, b"two");
    });
    assert!(q.wait_acked(1, Some(Duration::ZERO)).unwrap());
    assert!(!q.wait_acked(2, Some(Duration::from_millis(10))).unwrap());
    q.close().unwrap();
    assert_eq!(q.append(b"three").unwrap_err().kind(), ErrorKind::Closed);
    assert!(!q.wait_appended(3, None).unwrap());
    // Draining goes on after close.
    assert_eq!(all_unacked(&q), vec![(2, b"two".to_vec())]);
    q.ack(2).unwrap();
}

#[test]
fn periodic_durability_syncs_and_recovers() {
    let d = TestDir::new("periodic");
    let opts = SfOptions {
        durability: SfDurability::Periodic,
        sync_interval: Duration::ZERO,
        ..disk(d.path(), "s")
    };
    {
        let (q, _) = SfQueue::open(opts.clone()).unwrap();
        append_n(&q, 1, 10);
        q.ack(3).unwrap();
        q.sync().unwrap();
        q.close().unwrap();
    }
    let (q, rec) = SfQueue::open(opts).unwrap();
    assert_eq!(rec.frames, 7);
    expect_frames(&q, 4..=10);
}

#[test]
fn scan_stops_at_an_fsn_out_of_sequence() {
    let mut seg = encode_header(5).to_vec();
    for fsn in [5, 6, 8] {
        encode_record(fsn, b"abc", &mut seg);
    }
    let scan = scan_segment(&seg, Some(5));
    assert_eq!(
        scan.records.iter().map(|r| r.fsn).collect::<Vec<_>>(),
        vec![5, 6]
    );
    assert_eq!(
        scan.stopped,
        Some(ScanStop::FsnOutOfSequence {
            offset: scan.good_len,
            expected: 7,
            found: 8
        })
    );
    let other = scan_segment(&seg, Some(4));
    assert_eq!(
        other.stopped,
        Some(ScanStop::HeaderFsn {
            expected: 4,
            found: 5
        })
    );
    assert!(other.records.is_empty());
}

#[test]
fn on_disk_format_is_the_documented_one() {
    // CRC-32 (IEEE) of `03 00 00 00` ++ `07 00 .. 00` ++ "abc".
    let mut rec = Vec::new();
    encode_record(7, b"abc", &mut rec);
    assert_eq!(
        rec,
        [
            3, 0, 0, 0, 0xcd, 0xe4, 0xf0, 0x25, 7, 0, 0, 0, 0, 0, 0, 0, b'a', b'b', b'c'
        ]
    );
    let mut head = b"QASF0001".to_vec();
    head.extend_from_slice(&7u64.to_le_bytes());
    assert_eq!(encode_header(7).to_vec(), head);
    assert_eq!(segment_name(7), "seg-00000000000000000007.sfa");
    let d = TestDir::new("format");
    {
        let (q, _) = SfQueue::open(disk(d.path(), "s")).unwrap();
        for _ in 0..42 {
            q.append(b"f").unwrap();
        }
        q.ack(42).unwrap();
    }
    let mut ack = b"QASFACK1".to_vec();
    ack.extend_from_slice(&42u64.to_le_bytes());
    ack.extend_from_slice(&[0xf7, 0xa1, 0x94, 0x0d]);
    assert_eq!(fs::read(d.path().join("s").join("ack")).unwrap(), ack);
}

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    /// Acknowledge this fraction (in 1/8) of the pending frames.
    Ack(u8),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..90).prop_map(Op::Append),
        2 => (0u8..=8).prop_map(Op::Ack),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random appends, acknowledgements and reopens against a model: the
    /// queue always holds exactly the unacknowledged frames, in order.
    #[test]
    fn disk_queue_matches_a_model(ops in proptest::collection::vec(op(), 1..60)) {
        let d = TestDir::new("prop");
        let opts = SfOptions { max_segment_bytes: 150, ..SfOptions::disk(d.path(), "p") };
        let (mut q, _) = SfQueue::open(opts.clone()).unwrap();
        let mut model: Vec<(u64, Vec<u8>)> = Vec::new();
        let (mut next, mut acked) = (1u64, 0u64);
        for op in ops {
            match op {
                Op::Append(n) => {
                    let payload: Vec<u8> = (0..n).map(|i| (i as u64 ^ next) as u8).collect();
                    prop_assert_eq!(q.append(&payload).unwrap(), next);
                    model.push((next, payload));
                    next += 1;
                }
                Op::Ack(eighths) => {
                    let k = model.len() * eighths as usize / 8;
                    if k > 0 {
                        acked = model[k - 1].0;
                        q.ack(acked).unwrap();
                        model.drain(..k);
                    }
                }
                Op::Reopen => {
                    drop(q);
                    let (q2, rec) = SfQueue::open(opts.clone()).unwrap();
                    prop_assert_eq!(rec.truncated, None);
                    prop_assert_eq!(rec.frames, model.len() as u64);
                    q = q2;
                }
            }
            prop_assert_eq!(q.next_fsn().unwrap(), next);
            prop_assert_eq!(q.acked_fsn().unwrap(), acked);
            let bytes: u64 = model.iter().map(|(_, p)| p.len() as u64).sum();
            prop_assert_eq!(q.pending_bytes().unwrap(), bytes);
            prop_assert_eq!(all_unacked(&q), model.clone());
        }
    }
}
