//! Galera-style flow control for trireme, as a pure state machine.
//!
//! A node whose receive queue (write-sets delivered but not yet applied)
//! grows past a limit broadcasts FC_STOP; every member then stops
//! replicating new write-sets until it broadcasts FC_CONT, once its queue
//! has drained below a lower limit. The cluster thus runs at the speed of
//! its slowest member instead of letting it fall behind.
//!
//! | module | concept |
//! |---|---|
//! | [`config`] | `gcs.fc_limit`, `gcs.fc_factor`, `gcs.fc_single_primary`, and the limits they give for `N` members (`limit * sqrt(N)`) |
//! | [`control`] | [`FlowControl`]: events in, messages out, `must_pause`; the rules and invariants |
//! | [`stats`] | paused time, messages sent/received, receive-queue statistics, as Galera's status variables |
//!
//! No I/O, no clock, no randomness: the node passes a monotonic time in
//! nanoseconds ([`Nanos`]) with every event.
//!
//! # Wiring it into the node
//!
//! * Create one [`FlowControl`] per node with its member id and the current
//!   view; call [`FlowControl::on_view`] on every primary view.
//! * Call [`FlowControl::on_queue_len`] whenever the receive queue length
//!   changes (push and pop); broadcast the returned message, if any, to all
//!   members (it need not be totally ordered).
//! * Call [`FlowControl::on_message`] for every FC message received.
//! * Before submitting a local write-set, wait while
//!   [`FlowControl::must_pause`] is true (DESIGN step 3; bounded, with a
//!   clear error on timeout).
//! * Read [`FlowControl::stats`] for `wsrep_flow_control_*` and
//!   `wsrep_local_recv_queue*`; [`FlowControl::reset_stats`] on `FLUSH
//!   STATUS`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod control;
pub mod stats;

/// A member id (the node id used by the group communication layer).
pub type MemberId = u64;

/// A monotonic clock value in nanoseconds, supplied by the caller.
pub type Nanos = u64;

pub use config::{Config, ConfigError, Limits};
pub use control::{FcMessage, FlowControl};
pub use stats::FcStats;
