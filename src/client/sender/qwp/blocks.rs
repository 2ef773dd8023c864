//! Several tables committed as one: the table blocks of a row buffer (one
//! per table) go out in one frame when they fit, else in several frames of
//! which only the last commits.

use super::*;

/// One table block of a group: a batch and how it goes on the wire.
pub(super) struct Block {
    pub(super) table: Arc<str>,
    pub(super) batch: RecordBatch,
    pub(super) plan: Arc<Plan>,
}

impl QwpSender {
    /// See [`Sender::send_tables`](crate::client::Sender::send_tables).
    pub(crate) fn send_tables(
        &mut self,
        tables: Vec<TableBatch>,
        opts: &IngestOptions,
        wait: bool,
    ) -> Result<IngestSummary> {
        let mut blocks = Vec::with_capacity(tables.len());
        for (table, batch, ts) in tables {
            if batch.num_rows() == 0 {
                continue;
            }
            let mut o = opts.clone();
            o.ts_column = ts;
            let plan = plan_schema(&table, &batch, &o, self.loopback())?;
            blocks.push(Block {
                table: table.into(),
                batch,
                plan: Arc::new(plan),
            });
        }
        if self.is_publisher() {
            let t0 = Instant::now();
            let rows: usize = blocks.iter().map(|b| b.batch.num_rows()).sum();
            let before = self.stats;
            if !blocks.is_empty() {
                self.publish_group(&blocks)?;
            }
            return Ok(IngestSummary {
                rows: rows as u64,
                batches: u64::from(!blocks.is_empty()),
                frames: self.stats.frames_sent - before.frames_sent,
                bytes: self.stats.bytes_sent - before.bytes_sent,
                reconnects: 0,
                elapsed: t0.elapsed(),
                dropped_rows: 0,
                dropped: Vec::new(),
            });
        }
        let label = blocks
            .iter()
            .map(|b| &*b.table)
            .collect::<Vec<_>>()
            .join(", ");
        let mut todo = Some(Arc::<[Block]>::from(blocks));
        let window = if wait { usize::MAX } else { opts.window() };
        self.run(&label, opts, true, wait, |s| {
            let Some(blocks) = todo.take() else {
                return Ok(false);
            };
            if blocks.is_empty() {
                return Ok(false);
            }
            let index = s.pushed;
            s.pushed += 1;
            s.push_group(index, blocks, window)?;
            Ok(true)
        })
    }

    /// Sends a group's blocks: one block framed by exact sizing; several
    /// in one frame when it fits, else block by block with only the last
    /// frame committing.
    pub(super) fn send_group(&mut self, blocks: &[Block], window: usize) -> Result<()> {
        if let [b] = blocks {
            return self.send_block(&b.table, &b.batch, &b.plan, window, true);
        }
        if !self.send_one_frame(blocks, window)? {
            let last = blocks.len().saturating_sub(1);
            for (i, b) in blocks.iter().enumerate() {
                self.send_block(&b.table, &b.batch, &b.plan, window, i == last)?;
            }
        }
        Ok(())
    }

    /// All `blocks` in one committing frame; `false` (nothing sent) when
    /// they do not fit one frame.
    fn send_one_frame(&mut self, blocks: &[Block], window: usize) -> Result<bool> {
        let mut budget = self.frame_budget();
        let mut encoders = Vec::with_capacity(blocks.len());
        for b in blocks {
            if b.batch.num_rows() > b.plan.max_rows {
                return Ok(false);
            }
            budget = budget.min(b.plan.max_bytes);
            let e = BlockEncoder::new(
                &b.batch,
                b.plan.names.clone(),
                b.plan.types.clone(),
                &b.plan.layout,
                &mut self.dict,
            )
            .map_err(|e| e.context(format!("table {}", b.table)))?;
            encoders.push(e);
        }
        let delta = self.dict.pending_delta();
        let len = HEADER_LEN
            + delta.encoded_len()
            + blocks
                .iter()
                .zip(&encoders)
                .map(|(b, e)| e.encoded_len(&b.table, true))
                .sum::<usize>();
        if len > budget || blocks.len() > usize::from(u16::MAX) {
            // The symbols the encoders registered go out with the next
            // frame's delta.
            return Ok(false);
        }
        let rows = blocks.iter().map(|b| b.batch.num_rows()).sum();
        self.window_wait(window)?;
        self.push_frame(len, rows, true, |out| {
            Header {
                version: 1,
                flags: FLAG_GORILLA | FLAG_DELTA_SYMBOL_DICT,
                table_count: blocks.len() as u16,
                payload_len: (len - HEADER_LEN) as u32,
            }
            .write(out);
            delta.encode(out);
            for (b, e) in blocks.iter().zip(&encoders) {
                e.write(&b.table, true, out);
            }
        })?;
        self.dict.mark_sent();
        Ok(true)
    }
}
