//! `wsrep_incoming_addresses`: every member's client (MySQL) address.
//!
//! Galera carries each member's incoming address in its join message. The
//! raft membership here stores only the peer address, and changing what it
//! stores would change the log format, so each member announces its client
//! address on gcs's unordered control channel instead: at every view change
//! and then every [`ANNOUNCE_EVERY`], which also repairs a lost message. A
//! member not heard from yet is listed by its name, as before.
//!
//! The same announcement carries the member's state-transfer listener
//! (`[storage] backup_listen`), so a joiner can resolve the member names of
//! `[storage] sst_donor` and fall back to any member (`crate::sst`).

use std::collections::HashMap;
use std::net::SocketAddr;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Tells these messages from flow control's on the shared channel.
pub const MAGIC: &[u8; 3] = b"TMI";
const VERSION: u8 = 2;

/// How often a member repeats its announcement.
pub const ANNOUNCE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Serialize, Deserialize)]
struct Announce {
    incoming: String,
    /// The member's `node_name`, as `[storage] sst_donor` names it.
    name: String,
    /// Where the member serves state transfers, if it does.
    sst: Option<String>,
}

/// The address clients reach this node at: `incoming_address` when set;
/// else the MySQL listen address, with the host of `cluster.advertise` in
/// place of an unspecified IP (a container listening on 0.0.0.0 is
/// reached by the name its peers use).
pub fn own_incoming(
    configured: Option<&str>,
    listen: SocketAddr,
    advertise: Option<&str>,
) -> String {
    if let Some(a) = configured.filter(|a| !a.trim().is_empty()) {
        return a.trim().to_string();
    }
    if !listen.ip().is_unspecified() {
        return listen.to_string();
    }
    let host = advertise.and_then(|a| a.rsplit_once(':').map(|(h, _)| h.to_string()));
    match host.filter(|h| !h.is_empty()) {
        Some(h) => format!("{h}:{}", listen.port()),
        None => listen.to_string(),
    }
}

/// What this member has heard of the others' client addresses.
pub struct IncomingAddresses {
    own_id: u64,
    own: String,
    own_name: String,
    own_sst: Option<String>,
    heard: Mutex<HashMap<u64, Announce>>,
}

impl IncomingAddresses {
    pub fn new(
        own_id: u64,
        own: String,
        own_name: String,
        own_sst: Option<String>,
    ) -> IncomingAddresses {
        IncomingAddresses {
            own_id,
            own,
            own_name,
            own_sst,
            heard: Mutex::new(HashMap::new()),
        }
    }

    pub fn own(&self) -> &str {
        &self.own
    }

    /// This member's announcement, ready for `send_to_all`.
    pub fn announcement(&self) -> Vec<u8> {
        let a = Announce {
            incoming: self.own.clone(),
            name: self.own_name.clone(),
            sst: self.own_sst.clone(),
        };
        trireme_storage::codec::encode(MAGIC, VERSION, &a).unwrap_or_default()
    }

    /// Whether `payload` is an announcement (whatever its content).
    pub fn is_announcement(payload: &[u8]) -> bool {
        payload.len() >= 3 && &payload[..3] == MAGIC
    }

    /// Records `from`'s announcement; true when its client address
    /// changed. A payload that does not decode (another format) is ignored.
    pub fn on_message(&self, from: u64, payload: &[u8]) -> bool {
        let Ok(a) = trireme_storage::codec::decode::<Announce>(
            MAGIC,
            VERSION,
            "member announcement",
            payload,
        ) else {
            return false;
        };
        // Bounded: an address is a host and a port, and at most one is
        // kept per member id.
        if a.incoming.len() > 512
            || a.name.len() > 512
            || a.sst.as_ref().is_some_and(|s| s.len() > 512)
        {
            return false;
        }
        let incoming = a.incoming.clone();
        self.heard
            .lock()
            .insert(from, a)
            .is_none_or(|old| old.incoming != incoming)
    }

    /// Every member heard from (this one included), by id: its name and
    /// the state-transfer listener it announced. A member that left stays
    /// listed (asking it fails, and the next is asked): see `sst::donor_order`.
    pub fn sst_listeners(&self) -> Vec<(String, Option<String>)> {
        let heard = self.heard.lock();
        let mut all: Vec<(u64, String, Option<String>)> = heard
            .iter()
            .filter(|(id, _)| **id != self.own_id)
            .map(|(id, a)| (*id, a.name.clone(), a.sst.clone()))
            .collect();
        all.push((self.own_id, self.own_name.clone(), self.own_sst.clone()));
        all.sort_by_key(|(id, _, _)| *id);
        all.into_iter().map(|(_, n, a)| (n, a)).collect()
    }

    /// The client addresses of `members` (id, name), in their order; a
    /// member not heard from yet by its name.
    pub fn list(&self, members: &[(u64, String)]) -> Vec<String> {
        let heard = self.heard.lock();
        members
            .iter()
            .map(|(id, name)| {
                if *id == self.own_id {
                    self.own.clone()
                } else {
                    heard
                        .get(id)
                        .map_or_else(|| name.clone(), |a| a.incoming.clone())
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_address_prefers_configuration_then_listen_then_advertise_host() {
        let any: SocketAddr = "0.0.0.0:3306".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:3307".parse().unwrap();
        assert_eq!(own_incoming(Some("db1:3306"), lo, None), "db1:3306");
        assert_eq!(own_incoming(Some(" "), lo, None), "127.0.0.1:3307");
        assert_eq!(own_incoming(None, lo, Some("n1:4567")), "127.0.0.1:3307");
        assert_eq!(own_incoming(None, any, Some("node1:4567")), "node1:3306");
        assert_eq!(own_incoming(None, any, None), "0.0.0.0:3306");
        assert_eq!(
            own_incoming(None, "[::]:3306".parse().unwrap(), Some("[fd00::1]:4567")),
            "[fd00::1]:3306"
        );
    }

    #[test]
    fn announcements_fill_the_list_and_others_are_named() {
        let a = IncomingAddresses::new(1, "10.0.0.1:3306".into(), "n1".into(), None);
        let b = IncomingAddresses::new(
            2,
            "10.0.0.2:3306".into(),
            "n2".into(),
            Some("10.0.0.2:4444".into()),
        );
        let members = vec![(1, "n1".to_string()), (2, "n2".into()), (3, "n3".into())];
        assert_eq!(a.list(&members), ["10.0.0.1:3306", "n2", "n3"]);
        let msg = b.announcement();
        assert!(IncomingAddresses::is_announcement(&msg));
        assert!(a.on_message(2, &msg), "a new address is a change");
        assert!(!a.on_message(2, &msg), "the same again is not");
        assert_eq!(a.list(&members), ["10.0.0.1:3306", "10.0.0.2:3306", "n3"]);
        assert!(!a.on_message(3, b"TMI\x01\xff\xff"), "garbage is ignored");
        assert!(!a.on_message(3, b"TFC\x02"), "not ours");
        assert!(!IncomingAddresses::is_announcement(b"TFC\x02"));
        assert_eq!(a.list(&members)[2], "n3");
        // The listeners by member id: a's none, b's as announced; n3 was
        // not heard from.
        assert_eq!(
            a.sst_listeners(),
            vec![
                ("n1".to_string(), None),
                ("n2".to_string(), Some("10.0.0.2:4444".to_string())),
            ]
        );
    }
}
