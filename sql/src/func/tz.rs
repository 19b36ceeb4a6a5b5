//! Time zones: `@@time_zone` values and CONVERT_TZ. 'SYSTEM' is the
//! server's zone, which trireme keeps at UTC on every node
//! (`@@system_time_zone`), so NOW() agrees across the cluster. Named zones
//! come from the tz database bundled into the binary.

use trireme_storage::value::{Date, DateTime};

#[derive(Clone, Debug)]
pub enum Zone {
    /// A fixed offset east of UTC, in seconds.
    Offset(i64),
    Named(jiff::tz::TimeZone),
}

/// Parses a `time_zone` value: 'SYSTEM', '+HH:MM' / '-HH:MM' (MariaDB
/// accepts -12:59 .. +13:00), or a tz database name ('Europe/Paris').
pub fn parse_zone(name: &str) -> Option<Zone> {
    let n = name.trim();
    if n.eq_ignore_ascii_case("SYSTEM") {
        return Some(Zone::Offset(0));
    }
    if let Some(sign) = n.chars().next().filter(|c| *c == '+' || *c == '-') {
        let (h, m) = n[1..].split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        if m > 59 {
            return None;
        }
        let secs = (h * 60 + m) * 60;
        let secs = if sign == '-' { -secs } else { secs };
        if !(-(12 * 3600 + 59 * 60)..=13 * 3600).contains(&secs) {
            return None;
        }
        return Some(Zone::Offset(secs));
    }
    if n.eq_ignore_ascii_case("UTC") {
        return Some(Zone::Named(jiff::tz::TimeZone::UTC));
    }
    jiff::tz::db().get(n).ok().map(Zone::Named)
}

fn to_civil(dt: &DateTime) -> Option<jiff::civil::DateTime> {
    jiff::civil::DateTime::new(
        dt.date.year as i16,
        dt.date.month as i8,
        dt.date.day as i8,
        dt.hour as i8,
        dt.minute as i8,
        dt.second as i8,
        (dt.micro * 1000) as i32,
    )
    .ok()
}

impl Zone {
    /// The UTC instant (microseconds since the epoch) of local time `dt`
    /// in this zone; a time in a DST gap or overlap resolves as MariaDB
    /// does (the earlier offset).
    pub fn to_utc_micros(&self, dt: &DateTime) -> i64 {
        match self {
            Zone::Offset(s) => dt.to_unix_micros() - s * 1_000_000,
            Zone::Named(tz) => {
                let ts = to_civil(dt).and_then(|c| {
                    let amb = tz.to_ambiguous_timestamp(c);
                    if matches!(amb.offset(), jiff::tz::AmbiguousOffset::Gap { .. }) {
                        // A time the clocks skip reads as the moment they
                        // jump (MariaDB's reading).
                        let before = amb.earlier().ok()?;
                        tz.following(before).next().map(|t| t.timestamp())
                    } else {
                        amb.earlier().ok()
                    }
                });
                match ts {
                    Some(ts) => ts.as_microsecond(),
                    None => dt.to_unix_micros(),
                }
            }
        }
    }

    /// Whether local time `dt` is one the clocks skip in this zone (a
    /// TIMESTAMP refuses it, 1292).
    pub fn in_gap(&self, dt: &DateTime) -> bool {
        match self {
            Zone::Offset(_) => false,
            Zone::Named(tz) => to_civil(dt).is_some_and(|c| {
                matches!(
                    tz.to_ambiguous_timestamp(c).offset(),
                    jiff::tz::AmbiguousOffset::Gap { .. }
                )
            }),
        }
    }

    /// The local time in this zone of the UTC instant `us`.
    pub fn from_utc_micros(&self, us: i64) -> DateTime {
        match self {
            Zone::Offset(s) => DateTime::from_unix_micros(us + s * 1_000_000),
            Zone::Named(tz) => match jiff::Timestamp::from_microsecond(us) {
                Ok(ts) => {
                    let c = tz.to_datetime(ts);
                    DateTime {
                        date: Date {
                            year: c.year().clamp(0, 9999) as u16,
                            month: c.month() as u8,
                            day: c.day() as u8,
                        },
                        hour: c.hour() as u8,
                        minute: c.minute() as u8,
                        second: c.second() as u8,
                        micro: (c.subsec_nanosecond() / 1000) as u32,
                    }
                }
                Err(_) => DateTime::from_unix_micros(us),
            },
        }
    }
}

/// The largest TIMESTAMP (2038-01-19 03:14:07 UTC).
const MAX_TIMESTAMP: i64 = 2_147_483_647;

/// CONVERT_TZ(dt, from, to): NULL for an unknown zone; a time outside the
/// TIMESTAMP range is returned unchanged, as MariaDB does.
pub fn convert(dt: &DateTime, from: &str, to: &str) -> Option<DateTime> {
    let (from, to) = (parse_zone(from)?, parse_zone(to)?);
    let us = from.to_utc_micros(dt);
    if !(0..=MAX_TIMESTAMP * 1_000_000 + 999_999).contains(&us) {
        return Some(*dt);
    }
    Some(to.from_utc_micros(us))
}
