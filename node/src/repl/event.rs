//! Ordered events: what a node puts into the total order and every node
//! processes at the same seqno.
//!
//! | variant | what | certification | apply |
//! |---|---|---|---|
//! | `WriteSet` | a transaction's write-set (certification codec bytes) | `certify` | install row versions |
//! | `Toi` | a DDL or account statement, as text, with the tables it changes | `certify_toi` (barrier) | run the statement alone |
//! | `LowWater` | a node's oldest snapshot still in use | `skip`, then purge | nothing |

use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};

const MAGIC: &[u8; 3] = b"TRE";
const VERSION: u8 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Event {
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

impl Event {
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(MAGIC, VERSION, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Event, CodecError> {
        codec::decode(MAGIC, VERSION, "ordered event", bytes)
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
        };
        assert_eq!(Event::decode(&e.encode().unwrap()).unwrap(), e);
        assert!(Event::decode(b"TRE\x02").is_err());
        assert!(Event::decode(b"xyz").is_err());
        assert!(Event::decode(b"TRE\x01\xff\xff\xff\xff\xff").is_err());
    }
}
