//! The bounded connection pools behind [`QuestDb`](super::QuestDb).
//!
//! A `QuestDb` keeps two pools, one of ingest [`Sender`](super::Sender)s and one of query
//! [`Reader`](super::Reader)s, so heavy ingest cannot starve queries (or the other way
//! round). Each works the same way:
//!
//! - **Lazy.** No connection is opened by `QuestDb::connect`; a borrow takes
//!   the most recently returned idle connection, or opens a new one when
//!   none is idle. An unreachable server, a TLS or an auth failure surfaces
//!   at that borrow.
//! - **Bounded.** At most `sender_pool_max` / `query_pool_max` connections
//!   exist per pool, *borrowed ones included*. Borrowing when all of them
//!   are out fails at once with [`ErrorKind::PoolExhausted`], naming the
//!   pool, the cap and the key to raise. This is the default on purpose (as
//!   in the official Rust client): a borrow that blocks hides a pool sized
//!   below the peak concurrency, and a slow leak of borrowed connections
//!   turns into stalls far from their cause. With an acquire timeout
//!   ([`PoolOptions::acquire_timeout`], key `acquire_timeout_ms`, `0` =
//!   fail fast) a borrow at the cap waits up to that long for a connection
//!   to come back, then fails the same way.
//! - **Returned on drop.** A [`Pooled`] connection goes back when dropped.
//!   One that failed ([`Poolable::reusable`] is false: it latched an error or
//!   lost its connection) or outlived `max_lifetime_ms` is closed instead,
//!   and its slot is free for a new one. An idle connection the server
//!   closed meanwhile ([`Poolable::gone`]) is never handed out: the borrow
//!   opens a fresh one in its place.
//! - **Trimmed.** Idle connections above the warm size (`sender_pool_min` /
//!   `query_pool_min`, counting borrowed ones) are closed once idle for
//!   `idle_timeout_ms`; idle ones past `max_lifetime_ms` or gone are closed
//!   whatever the warm size. By default a background thread per `QuestDb`
//!   does this every `housekeeper_interval_ms`
//!   ([`QuestDb::reaper_thread_name`](super::QuestDb::reaper_thread_name));
//!   with [`PoolOptions::reap_manual`] there is no thread and
//!   [`QuestDb::reap_idle`](super::QuestDb::reap_idle) does it (it also
//!   works in automatic mode). The warm set is never opened ahead of use:
//!   it is what the reaper leaves open.
//! - **Closed.** [`QuestDb::close`](super::QuestDb::close) (or dropping the
//!   `QuestDb`) closes the idle connections and stops the reaper; later
//!   borrows fail with [`ErrorKind::Closed`] (waiting ones too) and
//!   borrowed connections are closed when they come back.
//!
//! | Setting | Key | Default |
//! |---|---|---|
//! | cap | `sender_pool_max` / `query_pool_max` (both: `pool_max`) | 64 / 64 |
//! | warm size | `sender_pool_min` / `query_pool_min` (both: `pool_size`) | 1 / 1 |
//! | wait at the cap | `acquire_timeout_ms` (`0` = fail fast) | fail fast |
//! | idle timeout | `idle_timeout_ms` (`0` = never) | 60 s |
//! | max lifetime | `max_lifetime_ms` (`0` = unlimited) | 30 min |
//! | reaper cadence | `housekeeper_interval_ms` | 5 s |
//! | who reaps | `pool_reap` (`auto` / `manual`) | `auto` |

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};

/// The size of one pool: `min` connections are kept warm once open (the
/// reaper closes idle ones above it), at most `max` exist, borrowed ones
/// included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    /// Warm size (`sender_pool_min` / `query_pool_min`).
    pub min: usize,
    /// Cap (`sender_pool_max` / `query_pool_max`), at least 1.
    pub max: usize,
}

/// Every setting of a [`QuestDb`](super::QuestDb)'s two pools; the pools
/// read their settings only from here ([`PoolOptions::from_conf`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// The ingest pool.
    pub senders: PoolSize,
    /// The query pool.
    pub readers: PoolSize,
    /// Idle connections above the warm size are closed after this long
    /// (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Connections older than this are closed instead of being reused
    /// (`None`: no limit).
    pub max_lifetime: Option<Duration>,
    /// How long a borrow at the cap waits for a connection to come back
    /// (`None`: it fails at once, the default).
    pub acquire_timeout: Option<Duration>,
    /// `true`: no background reaper; trim with
    /// [`QuestDb::reap_idle`](super::QuestDb::reap_idle).
    pub reap_manual: bool,
    /// How often the background reaper runs.
    pub housekeeper_interval: Duration,
}

impl PoolOptions {
    /// The pool settings of a connect string: `sender_pool_min/max`,
    /// `query_pool_min/max`, `idle_timeout_ms`, `max_lifetime_ms`,
    /// `housekeeper_interval_ms`, and `acquire_timeout_ms` where `0` means
    /// fail fast. A cap of 0 is raised to 1 and a warm size above the cap
    /// lowered to it.
    pub fn from_conf(conf: &Conf) -> PoolOptions {
        let size = |min: usize, max: usize| {
            let max = max.max(1);
            PoolSize {
                min: min.min(max),
                max,
            }
        };
        PoolOptions {
            senders: size(conf.sender_pool_min(), conf.sender_pool_max()),
            readers: size(conf.query_pool_min(), conf.query_pool_max()),
            idle_timeout: conf.idle_timeout(),
            max_lifetime: conf.max_lifetime(),
            acquire_timeout: conf.acquire_timeout(),
            reap_manual: conf.pool_reap() == crate::conf::PoolReap::Manual,
            housekeeper_interval: conf.housekeeper_interval().max(Duration::from_millis(1)),
        }
    }
}

/// What a pool needs to know of a connection it keeps.
pub trait Poolable: Send {
    /// Whether it can be reused (a failed connection is dropped instead).
    /// Checked when it comes back; cheap.
    fn reusable(&self) -> bool;

    /// Whether it is known to be unusable now, e.g. the server closed it
    /// while it sat idle. Checked before an idle connection is handed out
    /// and by the reaper; must not block.
    fn gone(&self) -> bool {
        !self.reusable()
    }
}

/// An idle connection and its times.
struct Idle<T> {
    item: T,
    opened: Instant,
    since: Instant,
}

struct State<T> {
    /// Oldest-returned first; borrows take from the end.
    idle: Vec<Idle<T>>,
    borrowed: usize,
    closed: bool,
}

/// One bounded pool of connections of one kind.
pub(crate) struct Pool<T> {
    /// "sender" or "query", for messages.
    what: &'static str,
    /// The connect-string key of the cap.
    max_key: &'static str,
    size: PoolSize,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    acquire_timeout: Option<Duration>,
    state: Mutex<State<T>>,
    /// Signalled when a connection comes back or a slot frees up.
    returned: Condvar,
}

impl<T: Poolable> Pool<T> {
    /// A pool named `what` whose cap is the key `max_key`.
    pub(crate) fn new(
        what: &'static str,
        max_key: &'static str,
        size: PoolSize,
        opts: &PoolOptions,
    ) -> Self {
        Pool {
            what,
            max_key,
            size,
            idle_timeout: opts.idle_timeout,
            max_lifetime: opts.max_lifetime,
            acquire_timeout: opts.acquire_timeout,
            state: Mutex::new(State {
                idle: Vec::new(),
                borrowed: 0,
                closed: false,
            }),
            returned: Condvar::new(),
        }
    }

    /// The state; nothing panics while holding it, so a poisoned lock
    /// still guards consistent counts.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn expired(&self, opened: Instant, now: Instant) -> bool {
        self.max_lifetime
            .is_some_and(|l| now.saturating_duration_since(opened) >= l)
    }

    /// Borrows an idle connection or opens one with `open` (outside the
    /// lock); at the cap fails or waits as configured.
    pub(crate) fn acquire(&self, open: impl FnOnce() -> Result<T>) -> Result<Pooled<'_, T>> {
        Pooled::checkout(PoolRef::Borrowed(self), open)
    }

    /// Like [`Pool::acquire`], for a connection that holds the pool
    /// itself (an `Arc`) instead of borrowing it: it can outlive the
    /// caller's borrow of the handle.
    pub(crate) fn acquire_owned(
        self: &Arc<Self>,
        open: impl FnOnce() -> Result<T>,
    ) -> Result<Pooled<'static, T>>
    where
        T: 'static,
    {
        Pooled::checkout(PoolRef::Shared(self.clone()), open)
    }

    /// Takes a slot (counted as borrowed) with an idle connection that is
    /// still usable, or an empty slot (`None`) to open one in; at the cap
    /// fails or waits as configured.
    fn take_slot(&self) -> Result<Option<Idle<T>>> {
        let deadline = self.acquire_timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if st.closed {
                return Err(closed());
            }
            if let Some(idle) = st.idle.pop() {
                st.borrowed += 1;
                drop(st);
                if self.expired(idle.opened, Instant::now()) || idle.item.gone() {
                    drop(idle);
                    return Ok(None);
                }
                return Ok(Some(idle));
            }
            if st.borrowed < self.size.max {
                st.borrowed += 1;
                return Ok(None);
            }
            let Some(deadline) = deadline else {
                return Err(self.exhausted());
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.exhausted());
            }
            st = self
                .returned
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Frees a slot taken by [`Pool::take_slot`] whose open failed.
    fn free_slot(&self) {
        self.lock().borrowed -= 1;
        self.returned.notify_one();
    }

    fn exhausted(&self) -> Error {
        let max = self.size.max;
        let key = self.max_key;
        let msg = match self.acquire_timeout {
            None => format!(
                "{} pool exhausted: all {max} connections ({key}={max}) are borrowed; raise \
                 {key}, drop borrowed connections sooner, or set acquire_timeout_ms to wait \
                 for one",
                self.what
            ),
            Some(t) => format!(
                "{} pool exhausted: all {max} connections ({key}={max}) are borrowed and none \
                 came back within acquire_timeout_ms={}; raise {key} or drop borrowed \
                 connections sooner",
                self.what,
                t.as_millis()
            ),
        };
        Error::new(ErrorKind::PoolExhausted, msg)
    }

    /// Takes back a borrowed connection: kept idle unless it failed, is too
    /// old or the pool closed.
    fn give_back(&self, item: T, opened: Instant) {
        let now = Instant::now();
        let keep = item.reusable() && !self.expired(opened, now);
        let mut st = self.lock();
        st.borrowed = st.borrowed.saturating_sub(1);
        let dropped = if keep && !st.closed {
            st.idle.push(Idle {
                item,
                opened,
                since: now,
            });
            None
        } else {
            Some(item)
        };
        drop(st);
        self.returned.notify_one();
        drop(dropped);
    }

    /// Closes idle connections that are gone or past their lifetime, then
    /// those idle for the idle timeout while more than the warm size are
    /// open. Returns how many it closed.
    pub(crate) fn reap(&self, now: Instant) -> usize {
        let mut st = self.lock();
        let (old, mut keep): (Vec<_>, Vec<_>) = std::mem::take(&mut st.idle)
            .into_iter()
            .partition(|i| self.expired(i.opened, now) || i.item.gone());
        let mut stale = Vec::new();
        if let Some(t) = self.idle_timeout {
            let open = keep.len() + st.borrowed;
            let surplus = open.saturating_sub(self.size.min);
            let n = keep
                .iter()
                .take(surplus)
                .take_while(|i| now.saturating_duration_since(i.since) >= t)
                .count();
            stale = keep.drain(..n).collect();
        }
        st.idle = keep;
        drop(st);
        old.len() + stale.len()
    }

    /// Closes the idle connections; later borrows (and waiting ones) fail
    /// with [`ErrorKind::Closed`].
    pub(crate) fn close(&self) {
        let idle = {
            let mut st = self.lock();
            st.closed = true;
            std::mem::take(&mut st.idle)
        };
        self.returned.notify_all();
        drop(idle);
    }

    /// Idle connections now.
    pub(crate) fn idle(&self) -> usize {
        self.lock().idle.len()
    }

    /// Borrowed connections now (including ones being opened).
    pub(crate) fn borrowed(&self) -> usize {
        self.lock().borrowed
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "QuestDb handle was closed")
}

/// How a [`Pooled`] connection reaches its pool: borrowed from the
/// handle, or shared with it.
enum PoolRef<'a, T> {
    Borrowed(&'a Pool<T>),
    Shared(Arc<Pool<T>>),
}

impl<T> Deref for PoolRef<'_, T> {
    type Target = Pool<T>;
    fn deref(&self) -> &Pool<T> {
        match self {
            PoolRef::Borrowed(p) => p,
            PoolRef::Shared(p) => p,
        }
    }
}

/// A connection borrowed from a [`QuestDb`](super::QuestDb) pool; it goes
/// back when dropped (unless it failed, outlived `max_lifetime_ms` or the
/// handle was closed). `Pooled<'static, _>` (from the handle's `*_owned`
/// calls) holds the pool itself and may outlive the handle: it is then
/// closed when dropped.
pub struct Pooled<'a, T: Poolable> {
    pool: PoolRef<'a, T>,
    item: Option<T>,
    opened: Instant,
}

impl<'a, T: Poolable> Pooled<'a, T> {
    /// Takes a slot of `pool` and fills it: an idle connection, or one
    /// `open` opens (outside the lock; a failure frees the slot).
    fn checkout(pool: PoolRef<'a, T>, open: impl FnOnce() -> Result<T>) -> Result<Self> {
        let (item, opened) = match pool.take_slot()? {
            Some(idle) => (idle.item, idle.opened),
            None => match open() {
                Ok(item) => (item, Instant::now()),
                Err(e) => {
                    pool.free_slot();
                    return Err(e);
                }
            },
        };
        Ok(Pooled {
            pool,
            item: Some(item),
            opened,
        })
    }
}

impl<T: Poolable + std::fmt::Debug> std::fmt::Debug for Pooled<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.item.fmt(f)
    }
}

impl<T: Poolable> Deref for Pooled<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.item.as_ref().expect("present until drop")
    }
}

impl<T: Poolable> DerefMut for Pooled<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item.as_mut().expect("present until drop")
    }
}

impl<T: Poolable> Drop for Pooled<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool.give_back(item, self.opened);
        }
    }
}

/// The background reaper of one `QuestDb`: a thread that calls `reap` on
/// the pools every interval while they exist, until stopped.
pub(crate) struct Reaper {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
    name: String,
}

impl Reaper {
    /// Starts the thread. It holds `target` weakly, so it never keeps the
    /// pools alive, and ends by itself once they are gone.
    pub(crate) fn spawn<S: Send + Sync + 'static>(
        target: Weak<S>,
        every: Duration,
        reap: fn(&S) -> usize,
    ) -> Result<Reaper> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Linux shows 15 bytes of a thread name.
        let name = format!(
            "qa-reap-{}",
            NEXT.fetch_add(1, Ordering::Relaxed) % 10_000_000
        );
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || reap_loop(&flag, every, &target, reap))
            .map_err(|e| Error::wrap(ErrorKind::Io, "starting the pool reaper thread", e))?;
        Ok(Reaper {
            stop,
            thread: Some(thread),
            name,
        })
    }

    /// The thread's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Stops the thread and waits for it (a pass in progress finishes
    /// first). A panic of the thread is a bug in this crate: it is
    /// re-raised here unless this thread is already unwinding.
    pub(crate) fn stop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take()
            && let Err(panic) = t.join()
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.stop();
    }
}

fn reap_loop<S>(
    stop: &(Mutex<bool>, Condvar),
    every: Duration,
    target: &Weak<S>,
    reap: fn(&S) -> usize,
) {
    let (lock, cv) = stop;
    let mut stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let next = Instant::now() + every;
        while !*stopped {
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            stopped = cv
                .wait_timeout(stopped, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if *stopped {
            return;
        }
        drop(stopped);
        match target.upgrade() {
            Some(pools) => {
                reap(&pools);
            }
            None => return,
        }
        stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// A fake connection: `ok` false makes it not reusable, `gone` makes
    /// it gone while idle; drops are counted.
    #[derive(Debug)]
    struct Fake {
        ok: bool,
        gone: Arc<AtomicBool>,
        drops: Arc<AtomicUsize>,
    }

    impl Poolable for Fake {
        fn reusable(&self) -> bool {
            self.ok
        }
        fn gone(&self) -> bool {
            self.gone.load(Ordering::SeqCst)
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn opts(min: usize, max: usize) -> PoolOptions {
        PoolOptions {
            senders: PoolSize { min, max },
            readers: PoolSize { min, max },
            idle_timeout: Some(Duration::from_millis(10)),
            max_lifetime: None,
            acquire_timeout: None,
            reap_manual: true,
            housekeeper_interval: Duration::from_secs(1),
        }
    }

    fn pool(o: &PoolOptions) -> Pool<Fake> {
        Pool::new("sender", "sender_pool_max", o.senders, o)
    }

    #[test]
    fn from_conf_maps_every_key_and_zero_acquire_timeout_fails_fast() {
        let c = Conf::parse(
            "ws::addr=h:1;sender_pool_min=2;sender_pool_max=3;query_pool_min=0;\
             query_pool_max=5;acquire_timeout_ms=0;idle_timeout_ms=0;max_lifetime_ms=70;\
             housekeeper_interval_ms=9;",
        )
        .unwrap();
        let o = PoolOptions::from_conf(&c);
        assert_eq!(o.senders, PoolSize { min: 2, max: 3 });
        assert_eq!(o.readers, PoolSize { min: 0, max: 5 });
        assert_eq!(o.acquire_timeout, None);
        assert_eq!(o.idle_timeout, None);
        assert_eq!(o.max_lifetime, Some(Duration::from_millis(70)));
        assert_eq!(o.housekeeper_interval, Duration::from_millis(9));
        assert!(!o.reap_manual);
        let c = Conf::parse("ws::addr=h:1;acquire_timeout_ms=300;").unwrap();
        assert_eq!(
            PoolOptions::from_conf(&c).acquire_timeout,
            Some(Duration::from_millis(300))
        );
        // The questdb-rs spellings.
        let c = Conf::parse("ws::addr=h:1;pool_size=2;pool_max=7;pool_reap=manual;").unwrap();
        let o = PoolOptions::from_conf(&c);
        assert_eq!(o.senders, PoolSize { min: 2, max: 7 });
        assert_eq!(o.readers, PoolSize { min: 2, max: 7 });
        assert!(o.reap_manual);
        // Defaults: fail fast at 64.
        let o = PoolOptions::from_conf(&Conf::parse("ws::addr=h:1;").unwrap());
        assert_eq!((o.senders.max, o.acquire_timeout), (64, None));
    }

    #[test]
    fn cap_counts_borrowed_and_failed_opens_free_their_slot() {
        let o = opts(0, 2);
        let p = pool(&o);
        let drops = Arc::new(AtomicUsize::new(0));
        let gone = Arc::new(AtomicBool::new(false));
        let fake = |ok| Fake {
            ok,
            gone: gone.clone(),
            drops: drops.clone(),
        };
        let a = p.acquire(|| Ok(fake(true))).unwrap();
        let e = p
            .acquire(|| Err(Error::new(ErrorKind::Io, "refused")))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        let b = p.acquire(|| Ok(fake(false))).unwrap();
        assert_eq!(p.borrowed(), 2);
        let e = p.acquire(|| Ok(fake(true))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PoolExhausted);
        assert!(e.to_string().contains("sender_pool_max=2"), "{e}");
        // The failed one is dropped, not kept.
        drop(b);
        assert_eq!(
            (p.idle(), p.borrowed(), drops.load(Ordering::SeqCst)),
            (0, 1, 1)
        );
        drop(a);
        assert_eq!((p.idle(), p.borrowed()), (1, 0));
        // An idle one that went away is replaced at the next borrow.
        gone.store(true, Ordering::SeqCst);
        let mut opened = false;
        let c = p
            .acquire(|| {
                opened = true;
                Ok(fake(true))
            })
            .unwrap();
        assert!(opened);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        drop(c);
        p.close();
        assert_eq!(p.idle(), 0);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        let e = p.acquire(|| Ok(fake(true))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Closed);
    }

    #[test]
    fn reap_keeps_the_warm_size_and_closes_old_ones() {
        let mut o = opts(1, 4);
        o.max_lifetime = Some(Duration::from_secs(3600));
        let p = pool(&o);
        let drops = Arc::new(AtomicUsize::new(0));
        let gone = Arc::new(AtomicBool::new(false));
        let held: Vec<_> = (0..3)
            .map(|_| {
                p.acquire(|| {
                    Ok(Fake {
                        ok: true,
                        gone: gone.clone(),
                        drops: drops.clone(),
                    })
                })
                .unwrap()
            })
            .collect();
        drop(held);
        assert_eq!(p.idle(), 3);
        // Not idle long enough yet.
        assert_eq!(p.reap(Instant::now()), 0);
        let later = Instant::now() + Duration::from_millis(20);
        assert_eq!(p.reap(later), 2);
        assert_eq!(p.idle(), 1);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        // Past its lifetime, the warm one goes too.
        assert_eq!(p.reap(later + Duration::from_secs(3600)), 1);
        assert_eq!(p.idle(), 0);
    }
}
