//! Errors of the public API, by operation, each saying what the caller
//! should do.

use crate::config::ConfigError;

/// [`crate::Gcs::start`] failed. Nothing was started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Fix the configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// TLS material missing or unusable: create it with
    /// [`crate::tls::ensure_dev_certs`] (development) or the cluster CA tools.
    #[error("{0}")]
    Tls(String),
    /// The gcache could not be opened (see the message for what to do).
    #[error(transparent)]
    Gcache(#[from] crate::gcache::GcacheError),
    /// The peer port could not be bound, or another I/O problem.
    #[error("{0}")]
    Io(String),
    /// openraft refused to start (storage inconsistent with its rules).
    #[error("raft failed to start: {0}")]
    Raft(String),
}

/// [`crate::Gcs::broadcast`] failed.
///
/// The variants say whether the payload may still be ordered: only
/// [`BroadcastError::Unknown`] is ambiguous (the payload may or may not
/// appear in the delivery stream); every other variant guarantees it will
/// never be delivered, so the caller may retry or report failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BroadcastError {
    /// This member is not in the primary component. Not ordered.
    #[error("not in the primary component; the payload was not ordered")]
    NonPrimary,
    /// Payload larger than `max_payload_bytes`. Not ordered.
    #[error("payload of {size} bytes exceeds max_payload_bytes {max}; not ordered")]
    TooLarge {
        /// Payload size.
        size: usize,
        /// Configured limit.
        max: usize,
    },
    /// Could not be ordered in time (no leader, leader changes). Not ordered.
    #[error("not ordered: {0}")]
    NotOrdered(String),
    /// The member is shut down. Not ordered.
    #[error("member is shut down; not ordered")]
    Shutdown,
    /// Outcome unknown (timeout or connection loss after the payload left
    /// this member). Watch the delivery stream (or resolve by a transaction id
    /// inside the payload) to learn whether it was ordered.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

impl BroadcastError {
    /// True for [`BroadcastError::Unknown`]: the payload may still be delivered.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, BroadcastError::Unknown(_))
    }
}

/// [`crate::Gcs::sync_point`] and other leader round trips failed. Retry
/// later, or report the member as not ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Not in the primary component.
    #[error("not in the primary component")]
    NonPrimary,
    /// No quorum-confirmed answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The member is shut down.
    #[error("member is shut down")]
    Shutdown,
}

/// [`crate::Gcs::leave`] failed; the member is still part of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaveError {
    /// No leader accepted the removal in time. Retry, or shut down and let
    /// the others evict this member.
    #[error("could not leave: {0}")]
    Failed(String),
    /// Already shut down.
    #[error("member is shut down")]
    Shutdown,
}
