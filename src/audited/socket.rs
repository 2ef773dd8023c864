//! Socket calls the standard library and `socket2` do not offer: the
//! receive low-water mark ([`set_recv_low_water`], `SO_RCVLOWAT`), a
//! wait until a socket is readable ([`wait_readable`], `poll(2)`) and a
//! read that never waits ([`recv_now`], `MSG_DONTWAIT`).
//!
//! Why: a client that decodes faster than the server sends catches up
//! with the stream and blocks in every read; each segment that arrives
//! then wakes it, and on a machine with few cores (or in a virtual
//! machine, where the wake-up is an interrupt between processors) those
//! wake-ups cost the sending side more than the copy itself. With the low
//! water mark at the bytes still missing from the frame being read, the
//! kernel wakes the reader once, when they are in.
//!
//! The wait must be a `poll`, not a blocking read: a blocking read that
//! copied part of the bytes and then sleeps is woken only when the bytes
//! *not yet copied* reach the mark, which may never happen (the rest of
//! the frame is less than the mark). `poll` counts every byte queued, and
//! the read after it takes what is there without sleeping.
//!
//! Tests: the ones below; `transport::stream`'s tests of
//! `Reading` (frames read through a real socket with each kind of wait);
//! `transport::reader`'s `sure_never_counts_more_than_the_frame_brings`
//! (the reader never claims more bytes than its frame brings); the
//! integration tests of queries (`it::query_modes`, `it::query`), which
//! read every result through them.

use std::io;
use std::net::TcpStream;

/// Sets `SO_RCVLOWAT` of `tcp` to `bytes` (at least 1; the kernel caps it
/// at half the largest receive buffer): a blocking read then returns once
/// that many bytes are in (or its timeout passes, or the stream ends), and
/// the socket reads as ready only then.
#[cfg(unix)]
pub(crate) fn set_recv_low_water(tcp: &TcpStream, bytes: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let value: libc::c_int = bytes.clamp(1, libc::c_int::MAX as usize) as libc::c_int;
    // SAFETY: `tcp` owns an open socket for the duration of the call (it
    // is borrowed), `value` is a live `c_int` on this stack frame, and the
    // length passed is exactly its size, which is what `SO_RCVLOWAT`
    // expects; the call reads the value and does not keep the pointer.
    let rc = unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&raw const value).cast::<libc::c_void>(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Waits until `tcp` is readable (as its low-water mark counts), has an
/// error or was shut down, at most `timeout` (`None`: without limit;
/// zero: not at all). `Ok(false)` when the time passed first; a signal
/// ends the wait early with `Ok(true)` (the caller's read then finds
/// nothing and waits again).
#[cfg(unix)]
pub(crate) fn wait_readable(
    tcp: &TcpStream,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let ms: libc::c_int = match timeout {
        None => -1,
        // Rounded up, so a wait is never shorter than asked.
        Some(d) => d
            .as_nanos()
            .div_ceil(1_000_000)
            .min(libc::c_int::MAX as u128) as libc::c_int,
    };
    let mut fds = [libc::pollfd {
        fd: tcp.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: `fds` is a live array of one initialised `pollfd` on this
    // stack frame and the count passed is its length; `poll` writes only
    // `revents` of those entries and keeps no pointer. The descriptor is
    // open while `tcp` is borrowed.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    match rc {
        0 => Ok(false),
        n if n > 0 => Ok(true),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(true)
            } else {
                Err(e)
            }
        }
    }
}

/// Reads what `tcp` holds into `buf` without waiting: `WouldBlock` when
/// nothing is there, `Ok(0)` at the end of the stream.
#[cfg(unix)]
pub(crate) fn recv_now(tcp: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is a live, initialised, writable slice and the length
    // passed is its length, so the kernel writes only inside it; the call
    // keeps no pointer. The descriptor is open while `tcp` is borrowed.
    let n = unsafe {
        libc::recv(
            tcp.as_raw_fd(),
            buf.as_mut_ptr().cast::<libc::c_void>(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n >= 0 {
        Ok(n as usize)
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::{recv_now, set_recv_low_water, wait_readable};

    /// With the mark at 6 bytes, a blocking read of a socket holding 4
    /// waits (here: until its timeout, then returns the 4), and one holding
    /// 6 returns them at once.
    #[test]
    fn a_read_waits_for_the_low_water_mark() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        set_recv_low_water(&rx, 6).unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        tx.write_all(b"abcd").unwrap();
        let mut buf = [0u8; 16];
        let t = std::time::Instant::now();
        let n = rx.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"abcd");
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "returned before the mark or the timeout: {:?}",
            t.elapsed()
        );
        tx.write_all(b"efghij").unwrap();
        let n = rx.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"efghij");
        // Back to the default: any byte wakes the reader.
        set_recv_low_water(&rx, 1).unwrap();
        tx.write_all(b"k").unwrap();
        assert_eq!(rx.read(&mut buf).unwrap(), 1);
    }

    /// `poll` counts every queued byte against the mark: 4 of 6 is not
    /// readable (the wait times out), 6 of 6 is; `recv_now` then takes
    /// them, and finds nothing after without waiting.
    #[test]
    fn wait_readable_honours_the_mark_and_recv_now_never_waits() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (rx, _) = l.accept().unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(
            recv_now(&rx, &mut buf).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        set_recv_low_water(&rx, 6).unwrap();
        tx.write_all(b"abcd").unwrap();
        assert!(!wait_readable(&rx, Some(Duration::from_millis(200))).unwrap());
        assert!(!wait_readable(&rx, Some(Duration::ZERO)).unwrap());
        tx.write_all(b"ef").unwrap();
        assert!(wait_readable(&rx, None).unwrap());
        assert_eq!(recv_now(&rx, &mut buf).unwrap(), 6);
        assert_eq!(&buf[..6], b"abcdef");
        assert_eq!(
            recv_now(&rx, &mut buf).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        // The end of the stream is readable whatever the mark, and reads
        // as 0 bytes.
        drop(tx);
        assert!(wait_readable(&rx, None).unwrap());
        assert_eq!(recv_now(&rx, &mut buf).unwrap(), 0);
    }
}
