//! Ordered events: what a node puts into the total order and every node
//! processes at the same seqno.
//!
//! | variant | what | certification | apply |
//! |---|---|---|---|
//! | `WriteSet` | a transaction's write-set (certification codec bytes) | `certify` | install row versions |
//! | `Toi` | a DDL or account statement, as text, with the tables it changes | `certify_toi` (barrier) | run the statement alone |
//! | `LowWater` | a node's oldest snapshot still in use | `skip`, then purge | nothing |
//!
//! A statement replicated as text must give the same result on every node,
//! so everything it reads from its environment travels with it: `time_us`
//! is the origin's clock when the statement ran (NOW(), CURRENT_TIMESTAMP
//! defaults of added columns), never the applier's.
//!
//! Versions: 1 had no `time_us`; its events are still read (a log written by
//! the previous binary is replayed after an upgrade) and apply with the
//! applier's clock, as they did then. [`FORMAT_VERSION`] is also announced
//! to peers at the handshake, so a member never receives events newer than
//! it can read.

use serde::{Deserialize, Serialize};

use trireme_storage::codec::{self, CodecError};

const MAGIC: &[u8; 3] = b"TRE";
/// The newest event format this binary writes and reads.
pub const FORMAT_VERSION: u8 = 2;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Event {
    WriteSet(Vec<u8>),
    Toi {
        source: u64,
        trx_id: u64,
        db: Option<String>,
        sql: String,
        tables: Vec<String>,
        /// The origin's clock (µs since the epoch) when the statement ran;
        /// 0 for version-1 events, which carried none.
        time_us: i64,
    },
    LowWater {
        node: u64,
        seqno: u64,
    },
}

/// Version 1 of [`Event`], read only.
#[derive(Deserialize)]
enum EventV1 {
    WriteSet(Vec<u8>),
    Toi {
        source: u64,
        trx_id: u64,
        db: Option<String>,
        sql: String,
        tables: Vec<String>,
    },
    LowWater {
        node: u64,
        seqno: u64,
    },
}

impl From<EventV1> for Event {
    fn from(e: EventV1) -> Event {
        match e {
            EventV1::WriteSet(b) => Event::WriteSet(b),
            EventV1::Toi {
                source,
                trx_id,
                db,
                sql,
                tables,
            } => Event::Toi {
                source,
                trx_id,
                db,
                sql,
                tables,
                time_us: 0,
            },
            EventV1::LowWater { node, seqno } => Event::LowWater { node, seqno },
        }
    }
}

/// Why an ordered event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Written by a newer binary: this node cannot process the stream and
    /// must not guess (its peers may apply the event).
    #[error("ordered event of format version {0}, newer than this binary's {FORMAT_VERSION}")]
    TooNew(u8),
    /// Not an event of any version: every node of this version reads the
    /// same bytes the same way.
    #[error("{0}")]
    Malformed(CodecError),
}

impl Event {
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(MAGIC, FORMAT_VERSION, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
        match bytes.get(..4) {
            Some([m0, m1, m2, v]) if [*m0, *m1, *m2] == *MAGIC && *v > FORMAT_VERSION => {
                Err(DecodeError::TooNew(*v))
            }
            Some([.., 1]) => codec::decode::<EventV1>(MAGIC, 1, "ordered event", bytes)
                .map(Event::from)
                .map_err(DecodeError::Malformed),
            _ => codec::decode(MAGIC, FORMAT_VERSION, "ordered event", bytes)
                .map_err(DecodeError::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_reject_garbage() {
        let e = Event::Toi {
            source: 1,
            trx_id: 9,
            db: Some("d".into()),
            sql: "CREATE TABLE t (id INT PRIMARY KEY)".into(),
            tables: vec!["d.t".into()],
            time_us: 1_700_000_000_123_456,
        };
        assert_eq!(Event::decode(&e.encode().unwrap()).unwrap(), e);
        assert!(matches!(
            Event::decode(b"TRE\x02"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            Event::decode(b"TRE\x03\x00"),
            Err(DecodeError::TooNew(3))
        ));
        assert!(Event::decode(b"xyz").is_err());
        assert!(Event::decode(b"TRE\x01\xff\xff\xff\xff\xff").is_err());
    }

    #[test]
    fn version_1_events_are_still_read() {
        #[derive(Serialize)]
        enum V1 {
            _WriteSet(Vec<u8>),
            Toi {
                source: u64,
                trx_id: u64,
                db: Option<String>,
                sql: String,
                tables: Vec<String>,
            },
        }
        let old = codec::encode(
            MAGIC,
            1,
            &V1::Toi {
                source: 2,
                trx_id: 5,
                db: None,
                sql: "DROP DATABASE d".into(),
                tables: vec![],
            },
        )
        .unwrap();
        assert_eq!(
            Event::decode(&old).unwrap(),
            Event::Toi {
                source: 2,
                trx_id: 5,
                db: None,
                sql: "DROP DATABASE d".into(),
                tables: vec![],
                time_us: 0,
            }
        );
    }
}
