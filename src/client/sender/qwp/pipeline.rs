//! The frame pipeline: a group's blocks cut into frames by exact size,
//! staged, written while the next frame is built, and counted.

use super::*;

impl QwpSender {
    /// Registers one group of blocks (before any I/O, so a replay has it)
    /// and sends it.
    pub(super) fn push_group(
        &mut self,
        index: u64,
        blocks: Arc<[Block]>,
        window: usize,
    ) -> Result<()> {
        let label: Vec<&str> = blocks.iter().map(|b| &*b.table).collect();
        self.groups.push_back(Group {
            table: label.join(", ").into(),
            index,
            fate: Fate::Pending,
            rows: blocks.iter().map(|b| b.batch.num_rows()).sum(),
            blocks: blocks.clone(),
            written: 0,
            first_seq: -1,
            last_seq: -1,
        });
        self.send_group(&blocks, window)
    }

    /// Frames one block by exact sizing and pushes them through the
    /// pipeline, keeping at most `window` frames unacknowledged. Its last
    /// frame commits when `commit` is set (else every frame defers).
    pub(super) fn send_block(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        plan: &Plan,
        window: usize,
        commit: bool,
    ) -> Result<()> {
        let budget = self.frame_budget().min(plan.max_bytes);
        let rows = batch.num_rows();
        let mut start = 0;
        let mut per = if self.rows_hint > 0 {
            self.rows_hint
        } else {
            rows
        }
        .min(plan.max_rows);
        while start < rows {
            let mut n = per.clamp(1, rows - start);
            loop {
                let slice = batch.slice(start, n);
                let block = BlockEncoder::new(
                    &slice,
                    plan.names.clone(),
                    plan.types.clone(),
                    &plan.layout,
                    &mut self.dict,
                )
                .map_err(|e| e.context(format!("table {table}")))?;
                let delta = self.dict.pending_delta();
                let len = HEADER_LEN + delta.encoded_len() + block.encoded_len(table, true);
                if len > budget {
                    // Exact sizing: shrink the slice until its frame fits.
                    if n == 1 {
                        return Err(Error::new(
                            ErrorKind::InvalidData,
                            format!(
                                "table {table}, row {start}: one row needs {len} bytes, above the frame budget of {budget} bytes"
                            ),
                        ));
                    }
                    let scaled = (n as f64 * budget as f64 / len as f64 * 0.97) as usize;
                    n = scaled.clamp(1, n - 1);
                    continue;
                }
                let last = commit && start + n >= rows;
                let mut flags = FLAG_GORILLA | FLAG_DELTA_SYMBOL_DICT;
                if !last {
                    flags |= FLAG_DEFER_COMMIT;
                }
                self.window_wait(window)?;
                self.push_frame(len, n, last, |out| {
                    Header {
                        version: 1,
                        flags,
                        table_count: 1,
                        payload_len: (len - HEADER_LEN) as u32,
                    }
                    .write(out);
                    delta.encode(out);
                    block.write(table, true, out);
                })?;
                self.dict.mark_sent();
                // Next guess: as many rows as fill the budget at this density.
                per = ((n as f64 * budget as f64 * 0.97 / len as f64) as usize)
                    .clamp(1, plan.max_rows);
                self.rows_hint = per;
                break;
            }
            start += n;
        }
        Ok(())
    }

    /// Encodes a frame into the free buffer while the staged one (if any) is
    /// written from the other, then stages the new one.
    pub(super) fn push_frame(
        &mut self,
        len: usize,
        rows: usize,
        commit: bool,
        fill: impl FnOnce(&mut Out<'_>) + Send,
    ) -> Result<()> {
        if self.outbox.is_some() {
            return self.outbox_frame(len, rows, fill);
        }
        let staged = self.staged.take();
        let free = staged.as_ref().map_or(0, |s| 1 - s.buf);
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::new(ErrorKind::Closed, "not connected"));
        };
        let [b0, b1] = &mut self.bufs;
        let (free_buf, busy): (&mut FrameBuf, &FrameBuf) =
            if free == 0 { (b0, b1) } else { (b1, b0) };
        let (wrote, built) = match &staged {
            // Large frames: write one while encoding the next.
            Some(_) if len >= 64 * 1024 => {
                rayon::join(|| conn.send_frame(busy), || free_buf.build(len, fill))
            }
            Some(_) => (conn.send_frame(busy), free_buf.build(len, fill)),
            None => (Ok(()), free_buf.build(len, fill)),
        };
        if let Some(s) = staged {
            wrote?;
            self.on_written(s)?;
        }
        built?;
        self.staged = Some(Staged {
            buf: free,
            rows,
            commit,
        });
        Ok(())
    }

    /// Writes the staged frame, if any.
    pub(super) fn flush_staged(&mut self) -> Result<()> {
        if let Some(s) = self.staged.take() {
            let Some(conn) = self.conn.as_mut() else {
                return Err(Error::new(ErrorKind::Closed, "not connected"));
            };
            conn.send_frame(&self.bufs[s.buf])?;
            self.on_written(s)?;
        }
        Ok(())
    }

    /// Book-keeping after a frame went out; polls for acknowledgements.
    pub(super) fn on_written(&mut self, s: Staged) -> Result<()> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.stats.frames_sent += 1;
        self.stats.bytes_sent += self.bufs[s.buf].payload_len() as u64;
        self.stats.rows_sent += s.rows as u64;
        if s.rows > 0
            && let Some(g) = self.groups.iter_mut().find(|g| g.written < g.rows)
        {
            g.written += s.rows;
            if g.first_seq < 0 {
                g.first_seq = seq;
            }
            if s.commit {
                g.last_seq = seq;
            }
        }
        self.report();
        while self.read_response(Some(Duration::ZERO))? {}
        Ok(())
    }

    /// Calls the progress callback with this call's counters.
    pub(super) fn report(&self) {
        if let Some(p) = &self.progress {
            let (s, b) = (&self.stats, &self.base);
            p(&Progress {
                rows_sent: s.rows_sent - b.rows_sent,
                bytes_sent: s.bytes_sent - b.bytes_sent,
                frames_sent: s.frames_sent - b.frames_sent,
                rows_acked: s.rows_acked - b.rows_acked,
            });
        }
    }
}
