//! The options of a store-and-forward queue: the `sf_*` connect-string
//! keys.

use std::path::PathBuf;
use std::time::Duration;

use super::slot::check_sender_id;
use crate::conf::SfDurability;
use crate::error::{Error, Result};

/// How a store-and-forward queue stores its frames: the values of the
/// `sf_*` connect-string keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfOptions {
    /// `sf_dir`: the directory of the slots; `None` = memory mode.
    pub dir: Option<PathBuf>,
    /// `sender_id`: the slot under `dir`; `[A-Za-z0-9_-]`, default
    /// `default`.
    pub sender_id: String,
    /// `sf_max_total_bytes`: the cap on the payload bytes held (memory
    /// mode) or on the slot's segment files and spares (disk mode).
    pub max_total_bytes: u64,
    /// `sf_max_segment_bytes`: where a segment file is rotated (64 MiB),
    /// or at half of `max_total_bytes` if that is less (see
    /// [`SfOptions::segment_bytes`]).
    pub max_segment_bytes: u64,
    /// `sf_durability`: whether segment files are `fsync`ed.
    pub durability: SfDurability,
    /// `sf_sync_interval_millis`: the `fsync` period with
    /// [`SfDurability::Periodic`] (5 s).
    pub sync_interval: Duration,
    /// `sf_append_deadline_millis`: how long
    /// [`SfQueue::append`](super::SfQueue::append) blocks on a full queue
    /// before it fails (30 s).
    pub append_deadline: Duration,
}

const MIB: u64 = 1 << 20;

impl Default for SfOptions {
    /// Memory mode with the connect string's defaults.
    fn default() -> Self {
        SfOptions {
            dir: None,
            sender_id: "default".to_owned(),
            max_total_bytes: 128 * MIB,
            max_segment_bytes: 64 * MIB,
            durability: SfDurability::Memory,
            sync_interval: Duration::from_millis(5_000),
            append_deadline: Duration::from_millis(30_000),
        }
    }
}

impl SfOptions {
    /// Memory mode bounded by `max_total_bytes`, other values at their
    /// defaults.
    pub fn memory(max_total_bytes: u64) -> SfOptions {
        SfOptions {
            max_total_bytes,
            ..SfOptions::default()
        }
    }

    /// Disk mode in `<dir>/<sender_id>/`, other values at their defaults
    /// (10 GiB cap).
    pub fn disk(dir: impl Into<PathBuf>, sender_id: impl Into<String>) -> SfOptions {
        SfOptions {
            dir: Some(dir.into()),
            sender_id: sender_id.into(),
            max_total_bytes: 10 * 1024 * MIB,
            ..SfOptions::default()
        }
    }

    /// Where a disk queue rotates its segment files: `max_segment_bytes`,
    /// at most half of `max_total_bytes`, so that acknowledged space
    /// (which comes back a whole segment at a time) returns while the
    /// queue still has room.
    pub fn segment_bytes(&self) -> u64 {
        self.max_segment_bytes
            .min((self.max_total_bytes / 2).max(1))
    }

    pub(super) fn check(&self) -> Result<()> {
        check_sender_id(&self.sender_id)?;
        if self.max_total_bytes == 0 {
            return Err(Error::config("sf_max_total_bytes", "0", "must be positive"));
        }
        if self.max_segment_bytes == 0 {
            return Err(Error::config(
                "sf_max_segment_bytes",
                "0",
                "must be positive",
            ));
        }
        if self.dir.is_none() && self.durability == SfDurability::Periodic {
            return Err(Error::config(
                "sf_durability",
                "periodic",
                "requires sf_dir",
            ));
        }
        Ok(())
    }
}
