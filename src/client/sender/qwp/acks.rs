//! Acknowledgements: the window of frames in flight, waiting for every
//! frame at an ack level, reading the server's responses, and what a
//! rejection does under the error policies.

use super::*;

impl QwpSender {
    /// Blocks until fewer than `window` written frames are unacknowledged
    /// (the staged frame, about to be written, counts).
    pub(super) fn window_wait(&mut self, window: usize) -> Result<()> {
        if self.outbox.is_some() {
            // Publishing: the queue's own bound applies.
            return Ok(());
        }
        let staged = usize::from(self.staged.is_some());
        while (self.next_seq - 1 - self.acked) as usize + staged >= window {
            self.read_response(Some(ACK_TIMEOUT))
                .and_then(|got| if got { Ok(()) } else { Err(self.ack_timeout()) })?;
        }
        Ok(())
    }

    pub(super) fn ack_timeout(&self) -> Error {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "no acknowledgement within {ACK_TIMEOUT:?} (frames up to {} sent, {} acknowledged)",
                self.next_seq - 1,
                self.acked
            ),
        )
    }

    /// Writes what is staged and waits for every acknowledgement (and the
    /// durable ones for [`AckLevel::Durable`]).
    pub(super) fn wait_all(&mut self, ack: AckLevel) -> Result<()> {
        self.flush_staged()?;
        while self.acked < self.next_seq - 1 {
            if !self.read_response(Some(ACK_TIMEOUT))? {
                return Err(self.ack_timeout());
            }
        }
        if ack == AckLevel::Durable {
            if !self.durable_granted {
                return Err(Error::new(
                    ErrorKind::Incompatible,
                    "AckLevel::Durable: the server did not grant durable acknowledgements",
                ));
            }
            while self
                .durable_want
                .iter()
                .any(|(t, w)| self.durable_have.get(t).is_none_or(|h| h < w))
            {
                if !self.read_response(Some(ACK_TIMEOUT))? {
                    return Err(self.ack_timeout());
                }
            }
        }
        Ok(())
    }

    /// Reads and applies one response; `false` when none came in `timeout`.
    pub(super) fn read_response(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::new(ErrorKind::Closed, "not connected"));
        };
        let Some(frame) = conn.recv_timeout(timeout)? else {
            return Ok(false);
        };
        match Response::decode(&frame)? {
            Response::Ok { sequence, tables } => {
                if sequence >= self.next_seq {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "OK for frame {sequence}, but only {} frames were sent",
                            self.next_seq
                        ),
                    ));
                }
                for (t, txn) in tables {
                    let w = self.durable_want.entry(t).or_insert(txn);
                    *w = (*w).max(txn);
                }
                self.advance(sequence);
            }
            Response::DurableAck { tables } => {
                for (t, txn) in tables {
                    let h = self.durable_have.entry(t).or_insert(txn);
                    *h = (*h).max(txn);
                }
            }
            Response::Error {
                status,
                sequence,
                message,
            } => return self.rejected(status, sequence, message),
        }
        Ok(true)
    }

    /// Frames up to `sequence` are answered: batches whose committing
    /// frame is among them are done (committed, or rejected for good);
    /// those to resend stay.
    pub(super) fn advance(&mut self, sequence: i64) {
        self.acked = self.acked.max(sequence);
        let mut i = 0;
        while let Some(g) = self.groups.get(i) {
            if g.last_seq < 0 || g.last_seq > self.acked {
                break;
            }
            match g.fate {
                Fate::Resend => {
                    i += 1;
                    continue;
                }
                Fate::Pending => {
                    self.stats.rows_acked += g.rows as u64;
                    self.batches_acked += 1;
                    // A commit resets the poison-frame detector.
                    self.rejections = 0;
                }
                Fate::Rejected => {}
            }
            self.groups.remove(i);
        }
        self.report();
    }

    /// A rejection of frame `sequence`: under a drop policy its batch is
    /// recorded as dropped and `Ok`; else the error, the batch marked to
    /// resend or as rejected for good as the policy says. Either way the
    /// rest of its frames, which the server refuses as one aborted
    /// transaction, only move the watermark.
    pub(super) fn rejected(
        &mut self,
        status: Status,
        sequence: i64,
        message: String,
    ) -> Result<bool> {
        let hit = self.groups.iter().position(|g| {
            g.first_seq >= 0
                && g.first_seq <= sequence
                && (g.last_seq < 0 || sequence <= g.last_seq)
        });
        let Some(g) = hit.and_then(|i| self.groups.get_mut(i)) else {
            self.advance(sequence);
            return Err(Error::server(
                status,
                format!("table ?: frame {sequence} rejected: {message}"),
            ));
        };
        if g.fate != Fate::Pending {
            self.advance(sequence);
            return Ok(true);
        }
        let (table, batch, rows) = (g.table.to_string(), g.index, g.rows as u64);
        let action = self.policies.action(status);
        if action != Action::Drop {
            g.fate = match action {
                Action::Retry { .. } => Fate::Resend,
                _ => Fate::Rejected,
            };
            self.advance(sequence);
            return Err(Error::server(
                status,
                format!(
                    "table {table}: batch {batch} ({rows} rows) rejected at frame {sequence}: {message}"
                ),
            ));
        }
        g.fate = Fate::Rejected;
        self.rejections = 0;
        self.dropped.push(Dropped {
            table,
            batch,
            rows,
            status,
            message,
        });
        self.advance(sequence);
        Ok(true)
    }
}
