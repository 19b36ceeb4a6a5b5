//! Which history a member belongs to, checked at every handshake.
//!
//! A cluster's *uuid* is drawn at random when it is bootstrapped (Galera's
//! group state uuid). Two members with different uuids hold different
//! histories even when their names, certificates and seqnos look alike (a
//! wiped seed node that bootstrapped a new cluster, a minority that was
//! force-bootstrapped): they must never exchange raft traffic, or raft would
//! silently splice one history onto the other. A member with no uuid yet
//! (an empty data directory) adopts the uuid of the first member that
//! welcomes it, and the application persists it before the handshake
//! completes, so it can never be talked into a second history later.
//!
//! The *application format version* is the newest ordered-event format the
//! application can read. A member refuses peers whose version is newer than
//! its own: it could not decode what they order, and skipping an event its
//! peers apply would diverge.

use parking_lot::Mutex;

/// Persists an adopted uuid; called before the handshake that adopted it
/// completes. An error refuses the peer.
pub type AdoptFn = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// This member's identity, shared by its transport.
pub struct ClusterIdentity {
    uuid: Mutex<Option<String>>,
    app_version: u32,
    adopt: AdoptFn,
}

impl std::fmt::Debug for ClusterIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterIdentity")
            .field("uuid", &*self.uuid.lock())
            .field("app_version", &self.app_version)
            .finish()
    }
}

impl ClusterIdentity {
    /// `uuid` is `None` for a member that has never belonged to a cluster.
    pub fn new(uuid: Option<String>, app_version: u32, adopt: AdoptFn) -> ClusterIdentity {
        ClusterIdentity {
            uuid: Mutex::new(uuid),
            app_version,
            adopt,
        }
    }

    /// An identity that accepts any peer and persists nothing (tests).
    pub fn any() -> ClusterIdentity {
        ClusterIdentity::new(None, 0, Box::new(|_| Ok(())))
    }

    /// The cluster uuid, once known.
    pub fn uuid(&self) -> Option<String> {
        self.uuid.lock().clone()
    }

    /// The application format version announced to peers.
    pub fn app_version(&self) -> u32 {
        self.app_version
    }

    /// Decides whether a peer announcing `peer_uuid` and `peer_app` may talk
    /// to this member; adopts the peer's uuid if this member has none.
    pub fn admit(&self, peer_uuid: Option<&str>, peer_app: u32) -> Result<(), String> {
        if peer_app > self.app_version {
            return Err(format!(
                "peer writes ordered events of format {peer_app}, newer than this member reads ({}); upgrade this member first",
                self.app_version
            ));
        }
        let mut mine = self.uuid.lock();
        match (mine.as_deref(), peer_uuid) {
            (Some(a), Some(b)) if a != b => Err(format!(
                "cluster uuid {b} differs from this member's {a}: the two hold different histories. A member of another history must be emptied (move its data directory away) to join by state transfer"
            )),
            (None, Some(b)) => {
                (self.adopt)(b).map_err(|e| format!("cannot record cluster uuid {b}: {e}"))?;
                tracing::info!(uuid = b, "joined cluster (uuid adopted)");
                *mine = Some(b.to_string());
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn recording(uuid: Option<&str>, app: u32) -> (ClusterIdentity, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let id = ClusterIdentity::new(
            uuid.map(str::to_string),
            app,
            Box::new(move |u| {
                s.lock().push(u.to_string());
                Ok(())
            }),
        );
        (id, seen)
    }

    #[test]
    fn members_of_different_histories_are_refused() {
        let (id, seen) = recording(Some("a"), 2);
        assert!(id.admit(Some("b"), 2).unwrap_err().contains("differs"));
        assert!(id.admit(Some("a"), 2).is_ok());
        // A peer with no history yet is welcome (it adopts ours).
        assert!(id.admit(None, 2).is_ok());
        assert!(seen.lock().is_empty());
        assert_eq!(id.uuid().as_deref(), Some("a"));
    }

    #[test]
    fn an_empty_member_adopts_the_first_uuid_and_keeps_it() {
        let (id, seen) = recording(None, 2);
        assert!(id.admit(None, 2).is_ok());
        assert_eq!(id.uuid(), None);
        id.admit(Some("a"), 2).unwrap();
        assert_eq!(id.uuid().as_deref(), Some("a"));
        assert!(id.admit(Some("b"), 2).is_err());
        assert_eq!(*seen.lock(), vec!["a".to_string()]);
    }

    #[test]
    fn a_uuid_that_cannot_be_recorded_is_not_adopted() {
        let id = ClusterIdentity::new(None, 1, Box::new(|_| Err("disk full".into())));
        assert!(id.admit(Some("a"), 1).unwrap_err().contains("disk full"));
        assert_eq!(id.uuid(), None);
    }

    #[test]
    fn newer_event_formats_are_refused_older_accepted() {
        let (id, _) = recording(Some("a"), 2);
        assert!(id.admit(Some("a"), 3).unwrap_err().contains("upgrade"));
        assert!(id.admit(Some("a"), 1).is_ok());
    }
}
