//! TIMESTAMP columns hold UTC and read in the session's `time_zone`, as in
//! MariaDB: a row written at 12:00 under '+02:00' reads 10:00 under
//! '+00:00', while a DATETIME reads back as written. Every node stores the
//! same UTC value, so write-sets, certification keys and checksums do not
//! depend on the zone of the client that wrote them.
//!
//! The conversion happens at the edge between the store and expressions:
//! rows read for a statement are turned into local time (`to_local`), and
//! values written are turned back (`Exec::timestamp_to_utc`). A session at
//! UTC (the default: 'SYSTEM' is UTC on every node) converts nothing. An
//! index on a TIMESTAMP column is not used for lookups in another zone
//! (`access`): a local time in a DST overlap names two instants.

use trireme_storage::catalog::TableDef;
use trireme_storage::types::SqlType;
use trireme_storage::value::{DateTime, Value};
use trireme_storage::Row;

use crate::coerce::wrong_value;
use crate::error::SqlResult;
use crate::expr::Expr;
use crate::func::tz::{parse_zone, Zone};
use crate::Exec;

/// Whether `def` has a TIMESTAMP column.
pub fn has_timestamps(def: &TableDef) -> bool {
    def.columns
        .iter()
        .any(|c| matches!(c.ty, SqlType::Timestamp(_)))
}

/// The conjuncts that may give lookup keys for `def` at `offset` when its
/// TIMESTAMP columns read in another zone: those that read none of them.
pub fn keyable<'a>(def: &TableDef, conjuncts: Vec<&'a Expr>, offset: usize) -> Vec<&'a Expr> {
    if !has_timestamps(def) {
        return conjuncts;
    }
    conjuncts
        .into_iter()
        .filter(|e| {
            let mut reads = false;
            e.columns(&mut |c| {
                reads |= c
                    .checked_sub(offset)
                    .and_then(|i| def.columns.get(i))
                    .is_some_and(|col| matches!(col.ty, SqlType::Timestamp(_)));
            });
            !reads
        })
        .collect()
}

/// `row` of a table with TIMESTAMP columns, those columns in `zone`.
pub fn to_local(def: &TableDef, zone: &Zone, row: &Row) -> Row {
    row.iter()
        .zip(&def.columns)
        .map(|(v, c)| match (v, &c.ty) {
            (Value::DateTime(dt), SqlType::Timestamp(_)) if !is_zero(dt) => {
                Value::DateTime(zone.from_utc_micros(dt.to_unix_micros()))
            }
            _ => v.clone(),
        })
        .collect()
}

/// A local time in `zone` as the UTC time TIMESTAMP `column` stores; a
/// time the clocks skip is 1292, as in MariaDB's strict mode.
pub fn to_utc(zone: &Zone, v: Value, column: &str) -> SqlResult<Value> {
    match v {
        Value::DateTime(dt) if zone.in_gap(&dt) => {
            Err(wrong_value("datetime", &Value::DateTime(dt), column))
        }
        Value::DateTime(dt) if !is_zero(&dt) => {
            let us = zone.to_utc_micros(&dt);
            // A TIMESTAMP holds 1970-01-01 00:00:01 to 2038-01-19
            // 03:14:07.999999 UTC (a 32-bit count of seconds).
            if !(1_000_000..(1i64 << 31) * 1_000_000).contains(&us) {
                return Err(wrong_value("datetime", &Value::DateTime(dt), column));
            }
            Ok(Value::DateTime(DateTime::from_unix_micros(us)))
        }
        other => Ok(other),
    }
}

/// After an UPDATE computed `new` from a row read in `zone`: the TIMESTAMP
/// columns it assigned go back to UTC (but those set to CURRENT_TIMESTAMP,
/// `now_set`, which is UTC already), the others keep their `stored` value
/// exactly (a local time in a DST overlap would not round-trip).
pub fn restore(
    def: &TableDef,
    zone: &Zone,
    stored: &[Value],
    new: &mut [Value],
    assigned: impl Fn(usize) -> bool,
    now_set: &[usize],
) -> SqlResult<()> {
    for (i, col) in def.columns.iter().enumerate() {
        if !matches!(col.ty, SqlType::Timestamp(_)) {
            continue;
        }
        if !assigned(i) {
            new[i] = stored[i].clone();
        } else if !now_set.contains(&i) {
            new[i] = to_utc(zone, new[i].clone(), &col.name)?;
        }
    }
    Ok(())
}

/// The zero timestamp reads the same in every zone.
fn is_zero(dt: &DateTime) -> bool {
    dt.date.year == 0 && dt.date.month == 0 && dt.date.day == 0
}

impl Exec<'_> {
    /// The session's zone when it is not UTC: None means TIMESTAMP values
    /// read and write unchanged.
    pub fn session_zone(&self) -> Option<Zone> {
        let name = crate::vars::read(self.sess, "time_zone", false)
            .map(|v| v.to_text_lossy())
            .ok()?;
        match parse_zone(&name)? {
            Zone::Offset(0) => None,
            Zone::Named(tz) if tz == jiff::tz::TimeZone::UTC => None,
            z => Some(z),
        }
    }

    /// Rows of `def` as this session reads them (see the module doc).
    pub fn rows_in_zone<K>(&self, def: &TableDef, rows: Vec<(K, Row)>) -> Vec<(K, Row)> {
        match self.session_zone() {
            Some(z) if has_timestamps(def) => rows
                .into_iter()
                .map(|(k, r)| {
                    let local = to_local(def, &z, &r);
                    (k, local)
                })
                .collect(),
            _ => rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime {
        match trireme_storage::value::parse_datetime(s) {
            Some(d) => d,
            None => panic!("bad test datetime {s}"),
        }
    }

    #[test]
    fn offsets_round_trip_and_the_zero_timestamp_stays() {
        let z = parse_zone("+02:00").expect("zone");
        let utc = to_utc(&z, Value::DateTime(dt("2024-01-15 12:00:00")), "ts").ok();
        assert_eq!(utc, Some(Value::DateTime(dt("2024-01-15 10:00:00"))));
        let zero = Value::DateTime(dt("0000-00-00 00:00:00"));
        assert_eq!(to_utc(&z, zero.clone(), "ts").ok(), Some(zero));
        assert_eq!(to_utc(&z, Value::Null, "ts").ok(), Some(Value::Null));
    }

    #[test]
    fn named_zones_follow_daylight_saving() {
        let z = parse_zone("Europe/Paris").expect("zone");
        let winter = to_utc(&z, Value::DateTime(dt("2024-01-15 12:00:00")), "ts").ok();
        let summer = to_utc(&z, Value::DateTime(dt("2024-07-15 12:00:00")), "ts").ok();
        assert_eq!(winter, Some(Value::DateTime(dt("2024-01-15 11:00:00"))));
        assert_eq!(summer, Some(Value::DateTime(dt("2024-07-15 10:00:00"))));
        // 02:30 on the spring-forward night does not exist; on the
        // fall-back night it is the earlier of the two.
        let gap = to_utc(&z, Value::DateTime(dt("2024-03-31 02:30:00")), "ts");
        assert_eq!(gap.map_err(|e| e.code), Err(1292));
        let overlap = to_utc(&z, Value::DateTime(dt("2024-10-27 02:30:00")), "ts").ok();
        assert_eq!(overlap, Some(Value::DateTime(dt("2024-10-27 00:30:00"))));
    }
}
