//! Surviving failures: the retry loop around every step of an ingest,
//! reconnecting through the endpoint walk, and replaying the dictionary and
//! the batches not yet committed.

use super::*;

impl QwpSender {
    /// Runs `f`. With `replay`, a retriable failure (see
    /// [`Self::on_failure`]) reconnects and replays every uncommitted batch
    /// (the one `f` was pushing included, as it is registered before any
    /// I/O); then `recovered` is returned, or, when it is `None`, `f` runs
    /// again.
    pub(super) fn guard<T>(
        &mut self,
        replay: bool,
        reconnects: &mut u32,
        f: &mut impl FnMut(&mut Self) -> Result<T>,
        recovered: Option<T>,
    ) -> Result<T> {
        let mut deadline: Option<Instant> = None;
        let mut recovered = recovered;
        loop {
            let e = match f(self) {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !replay {
                return Err(e);
            }
            let (e, rotate) = self.on_failure(e)?;
            let budget = self
                .conf
                .as_ref()
                .map_or(Duration::from_secs(300), |c| c.reconnect_max_duration());
            let dl = *deadline.get_or_insert_with(|| Instant::now() + budget);
            self.recover(e, rotate, dl, reconnects)?;
            if let Some(v) = recovered.take() {
                return Ok(v);
            }
        }
    }

    /// Whether to reconnect after `e` and where (`true`: the next
    /// endpoint first), or `Err` to give up with it: a lost connection is
    /// retried on the next endpoint; a server rejection as its policy says,
    /// until `max_frame_rejections` rejections in a row without a commit
    /// (the poison-frame detector); anything else is terminal.
    pub(super) fn on_failure(&mut self, e: Error) -> Result<(Error, bool)> {
        if connect::lost_connection(&e) {
            return Ok((e, true));
        }
        let action = match (e.kind(), e.status()) {
            (ErrorKind::Server, Some(status)) => self.policies.action(status),
            _ => Action::Halt,
        };
        let Action::Retry { rotate } = action else {
            return Err(e);
        };
        self.rejections += 1;
        let max = self
            .conf
            .as_ref()
            .map_or(4, |c| c.max_frame_rejections().max(1));
        if self.rejections >= max {
            let n = self.rejections;
            return Err(e.context(format!(
                "rejected {n} times in a row without a commit (max_frame_rejections={max})"
            )));
        }
        Ok((e, rotate))
    }

    pub(super) fn drop_connection(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = c.close();
        }
        self.staged = None;
        self.groups.clear();
        self.dict.clear();
        self.next_seq = 0;
        self.acked = -1;
        self.rejections = 0;
        self.durable_want.clear();
        self.durable_have.clear();
    }

    /// One round over the endpoints, starting after the one connected
    /// last with `rotate`, else at it (the caller pauses between rounds).
    pub(super) fn open(&mut self, rotate: bool) -> Result<()> {
        let (conn, opts) = match &self.conf {
            Some(conf) => {
                let (c, o, i) = connect::round(
                    conf,
                    self.endpoint + usize::from(rotate),
                    &|o| Connection::connect(o, Route::Ingest),
                    &|_| Fit::Yes,
                )?;
                self.endpoint = i;
                (c, o)
            }
            None => (
                Connection::connect(&self.opts, Route::Ingest)?,
                self.opts.clone(),
            ),
        };
        let (conn, hs) = conn;
        self.opts = opts;
        self.server_budget = budget_of(hs.max_batch_size);
        self.durable_granted = hs.durable_ack;
        self.conn = Some(conn);
        self.next_seq = 0;
        self.acked = -1;
        self.staged = None;
        Ok(())
    }

    pub(super) fn ensure_connected(&mut self) -> Result<()> {
        if self.conn.is_none() {
            self.drop_connection();
            self.open(true)?;
        }
        Ok(())
    }

    /// Reconnects (with backoff, until `deadline`; the first round from
    /// the next endpoint with `rotate`), replays the whole symbol
    /// dictionary in catch-up frames and resends every uncommitted batch
    /// from its first row (dropped ones are forgotten).
    pub(super) fn recover(
        &mut self,
        cause: Error,
        rotate: bool,
        deadline: Instant,
        reconnects: &mut u32,
    ) -> Result<()> {
        let mut rotate = rotate;
        let mut backoff = connect::Backoff::until(self.conf.as_ref(), deadline);
        let mut last = cause;
        // Acknowledgements that arrived before the failure still count:
        // read them so batches already committed are not sent twice.
        let drain_until = Instant::now() + Duration::from_millis(200);
        self.drain(drain_until, Duration::from_millis(20), true)?;
        self.groups.retain(|g| g.fate != Fate::Rejected);
        loop {
            if let Some(mut c) = self.conn.take() {
                let _ = c.close();
            }
            self.staged = None;
            if Instant::now() >= deadline {
                return Err(last.context("reconnect budget (reconnect_max_duration_millis) spent"));
            }
            match self.open(rotate).and_then(|()| self.replay()) {
                Ok(()) => {
                    *reconnects += 1;
                    return Ok(());
                }
                // No endpoint takes writes now (replicas, a promotion in
                // progress): the next round may find the new primary.
                Err(e) if e.kind() == ErrorKind::RoleReject => last = e,
                Err(e) => (last, rotate) = self.on_failure(e)?,
            }
            backoff.pause();
        }
    }

    /// Reads the answers to frames already written, until all are
    /// answered, `until`, or no answer in `poll`. Rejections to resend
    /// are marked (see [`Self::rejected`]); with `halt`, any other
    /// rejection stops the drain as its error, else it is passed over.
    pub(super) fn drain(&mut self, until: Instant, poll: Duration, halt: bool) -> Result<()> {
        while self.conn.is_some() && self.acked < self.next_seq - 1 {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.read_response(Some(poll.min(left))) {
                Ok(true) => {}
                Err(e) if e.kind() == ErrorKind::Server => {
                    let action = e.status().map(|s| self.policies.action(s));
                    if halt && !matches!(action, Some(Action::Retry { .. })) {
                        return Err(e);
                    }
                }
                Ok(false) | Err(_) => break,
            }
        }
        Ok(())
    }

    /// On a fresh connection: catch-up frames re-registering the
    /// dictionary, then every retained batch again.
    pub(super) fn replay(&mut self) -> Result<()> {
        self.dict.mark_unsent();
        self.durable_want.clear();
        self.durable_have.clear();
        let budget = self.frame_budget();
        let entries = self.dict.entries().to_vec();
        for f in catch_up(&entries, budget) {
            self.window_wait(usize::MAX)?;
            self.push_frame(f.frame_len(), 0, false, |out| f.write(out))?;
        }
        self.dict.mark_sent();
        for g in self.groups.iter_mut() {
            g.written = 0;
            g.first_seq = -1;
            g.last_seq = -1;
            g.fate = Fate::Pending;
        }
        // Acknowledgements read while replaying pop committed groups from
        // the front, so walk a snapshot, not indices.
        let todo: Vec<_> = self.groups.iter().map(|g| g.blocks.clone()).collect();
        for blocks in todo {
            self.send_group(&blocks, usize::MAX)?;
        }
        self.flush_staged()
    }
}
