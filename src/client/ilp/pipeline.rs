//! The 1-deep request pipeline of [`IlpSender::ingest`](super::IlpSender::ingest):
//! request N is sent, and its answer awaited, on a helper thread while the
//! caller reads and encodes the body of request N+1.
//!
//! At most one request is in flight, so the server sees the same requests
//! in the same order as without the pipeline (one transaction per table
//! per request), and a request is retried (within `retry_timeout`) on the
//! helper thread exactly as it would be on the caller's. Request N's
//! outcome is collected before request N+1 starts: its error is the
//! call's error even when the encoding of N+1 failed meanwhile, and the
//! rows of a request count as sent only once it succeeded. The cost is a
//! second body buffer (the one in flight while the next fills).

use std::thread::{Scope, ScopedJoinHandle};

use super::{Link, Tally};
use crate::client::sender::IngestOptions;
use crate::error::{Error, ErrorKind, Result};

/// What a finished request hands back: the link, its body buffer (for
/// reuse) and its outcome.
type Done<'a> = (&'a mut Link, Vec<u8>, Result<()>);

/// A request on its way.
struct InFlight<'scope, 'a> {
    handle: ScopedJoinHandle<'scope, Done<'a>>,
    rows: u64,
    batches: u64,
    len: u64,
}

/// The pipeline over one link, inside a [`std::thread::scope`].
pub(super) struct Pipe<'scope, 'env, 'a: 'scope> {
    scope: &'scope Scope<'scope, 'env>,
    /// The link while no request is in flight.
    link: Option<&'a mut Link>,
    inflight: Option<InFlight<'scope, 'a>>,
    /// An empty buffer, swapped with the body a request takes.
    spare: Vec<u8>,
}

impl<'scope, 'env, 'a: 'scope> Pipe<'scope, 'env, 'a> {
    /// A pipeline over `link`; `spare` becomes the next body buffer.
    pub(super) fn new(
        scope: &'scope Scope<'scope, 'env>,
        link: &'a mut Link,
        spare: Vec<u8>,
    ) -> Self {
        Pipe {
            scope,
            link: Some(link),
            inflight: None,
            spare,
        }
    }

    /// The link, once the request in flight (if any) is answered; its
    /// error, if it failed.
    pub(super) fn link(&mut self, tally: &mut Tally, opts: &IngestOptions) -> Result<&mut Link> {
        self.wait(tally, opts)?;
        self.link
            .as_deref_mut()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "ILP pipeline lost its link"))
    }

    /// Waits for the request in flight: tallies its rows, or returns its
    /// error.
    fn wait(&mut self, tally: &mut Tally, opts: &IngestOptions) -> Result<()> {
        let Some(f) = self.inflight.take() else {
            return Ok(());
        };
        let (link, mut buf, res) = f
            .handle
            .join()
            .map_err(|_| Error::new(ErrorKind::Internal, "the ILP request thread panicked"))?;
        self.link = Some(link);
        buf.clear();
        self.spare = buf;
        res?;
        tally.record(f.rows, f.batches, f.len, opts);
        Ok(())
    }

    /// Sends `body` (`rows` of `batches` batches) as the next request, once
    /// the one in flight succeeded, and returns at once; `body` is then
    /// an empty buffer. Nothing is sent for an empty body.
    pub(super) fn send(
        &mut self,
        body: &mut Vec<u8>,
        rows: u64,
        batches: u64,
        tally: &mut Tally,
        opts: &IngestOptions,
    ) -> Result<()> {
        if body.is_empty() {
            return Ok(());
        }
        self.wait(tally, opts)?;
        let link = self
            .link
            .take()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "ILP pipeline lost its link"))?;
        let buf = std::mem::replace(body, std::mem::take(&mut self.spare));
        let len = buf.len() as u64;
        let handle = std::thread::Builder::new()
            .name("qa-ilp-request".into())
            .spawn_scoped(self.scope, move || {
                let res = link.transmit(&buf);
                (link, buf, res)
            })
            .map_err(|e| {
                Error::new(ErrorKind::Io, "starting the ILP request thread").with_source(e)
            })?;
        self.inflight = Some(InFlight {
            handle,
            rows,
            batches,
            len,
        });
        Ok(())
    }

    /// Waits for the last request: its outcome, and the spare buffer (to
    /// keep for the next call).
    pub(super) fn finish(
        mut self,
        tally: &mut Tally,
        opts: &IngestOptions,
    ) -> (Result<()>, Vec<u8>) {
        let res = self.wait(tally, opts);
        (res, self.spare)
    }
}
