//! Running one statement over the text protocol and recording what a
//! client sees of it: an error code, or result sets (column metadata and
//! rows as text), or an OK packet (affected rows, warnings).

use std::time::Duration;

use mysql_async::consts::ColumnFlags;
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder, Row, Value};

/// One column as compared: see [`super::compare`] for what is robust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Col {
    pub name: String,
    /// The MySQL column type byte (`MYSQL_TYPE_*`).
    pub ty: u8,
    pub unsigned: bool,
    /// Binary character set (63) on a string-like type: the client gets
    /// bytes, not text. `false` for other types.
    pub binary: bool,
}

impl Col {
    pub fn type_label(&self) -> String {
        let mut s = type_name(self.ty).to_string();
        if self.unsigned {
            s.push_str(" UNSIGNED");
        }
        if self.binary {
            s.push_str(" BINARY");
        }
        s
    }
}

/// A value as text (the text protocol's bytes); `None` is SQL NULL.
pub type Cell = Option<String>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A server error: the MySQL error code (compared), its message (shown).
    Error { code: u16, message: String },
    /// Something other than a server error (timeout, lost connection,
    /// protocol failure): always a difference.
    Client(String),
    /// No result set: the OK packet.
    Ok { affected: u64, warnings: u16 },
    /// One or more result sets.
    Rows(Vec<ResultSet>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultSet {
    pub columns: Vec<Col>,
    pub rows: Vec<Vec<Cell>>,
}

impl Outcome {
    /// A short human rendering (for reports), at most `max_rows` rows.
    pub fn render(&self, max_rows: usize) -> String {
        match self {
            Outcome::Error { code, message } => format!("ERROR {code}: {message}"),
            Outcome::Client(m) => format!("CLIENT ERROR: {m}"),
            Outcome::Ok { affected, warnings } => {
                format!("OK affected={affected} warnings={warnings}")
            }
            Outcome::Rows(sets) => {
                let mut out = String::new();
                for (i, s) in sets.iter().enumerate() {
                    if i > 0 {
                        out.push_str("\n  -- next result set\n");
                    }
                    let cols: Vec<String> = s
                        .columns
                        .iter()
                        .map(|c| format!("{} {}", c.name, c.type_label()))
                        .collect();
                    out.push_str(&format!("columns: {}\n", cols.join(" | ")));
                    for r in s.rows.iter().take(max_rows) {
                        out.push_str(&format!("  {}\n", render_row(r)));
                    }
                    if s.rows.len() > max_rows {
                        out.push_str(&format!("  ... {} rows in all\n", s.rows.len()));
                    }
                    if s.rows.is_empty() {
                        out.push_str("  (no rows)\n");
                    }
                }
                out.trim_end().to_string()
            }
        }
    }
}

pub fn render_row(r: &[Cell]) -> String {
    r.iter()
        .map(|c| c.as_deref().unwrap_or("NULL").to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The type byte's name (`MYSQL_TYPE_` left off).
pub fn type_name(ty: u8) -> &'static str {
    match ty {
        0 => "DECIMAL",
        1 => "TINY",
        2 => "SHORT",
        3 => "LONG",
        4 => "FLOAT",
        5 => "DOUBLE",
        6 => "NULL",
        7 => "TIMESTAMP",
        8 => "LONGLONG",
        9 => "INT24",
        10 => "DATE",
        11 => "TIME",
        12 => "DATETIME",
        13 => "YEAR",
        14 => "NEWDATE",
        15 => "VARCHAR",
        16 => "BIT",
        245 => "JSON",
        246 => "NEWDECIMAL",
        247 => "ENUM",
        248 => "SET",
        249 => "TINY_BLOB",
        250 => "MEDIUM_BLOB",
        251 => "LONG_BLOB",
        252 => "BLOB",
        253 => "VAR_STRING",
        254 => "STRING",
        255 => "GEOMETRY",
        _ => "?",
    }
}

/// The integer, decimal and floating-point types: the ones whose
/// UNSIGNED flag a driver reads (MariaDB also sets it on TIMESTAMP and
/// YEAR, where no driver looks at it).
fn is_numeric(ty: u8) -> bool {
    matches!(ty, 0..=5 | 8 | 9 | 246)
}

fn is_stringish(ty: u8) -> bool {
    matches!(ty, 15 | 245 | 247..=254)
}

fn cell(v: Value) -> Cell {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => {
                let hex: String = e.as_bytes().iter().map(|b| format!("{b:02X}")).collect();
                format!("0x{hex}")
            }
        }),
        // The text protocol sends bytes; anything else is rendered the
        // way the server would have written it.
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Connection options from a `mysql://user:pw@host:port` URL, over TCP.
pub fn opts(url: &str, db: Option<&str>) -> anyhow::Result<Opts> {
    let base = Opts::from_url(url).map_err(|e| anyhow::anyhow!("bad URL {url}: {e}"))?;
    Ok(OptsBuilder::from_opts(base)
        .prefer_socket(false)
        .db_name(db)
        .into())
}

/// Runs `sql` on `conn` within `timeout`. A timeout or a transport error
/// leaves the connection unusable: the caller reconnects.
pub async fn run(conn: &mut Conn, sql: &str, timeout: Duration) -> Outcome {
    match tokio::time::timeout(timeout, run_inner(conn, sql)).await {
        Ok(Ok(o)) => o,
        Ok(Err(mysql_async::Error::Server(e))) => Outcome::Error {
            code: e.code,
            message: e.message,
        },
        Ok(Err(e)) => Outcome::Client(e.to_string()),
        Err(_) => Outcome::Client(format!("no answer within {timeout:?}")),
    }
}

async fn run_inner(conn: &mut Conn, sql: &str) -> mysql_async::Result<Outcome> {
    let mut qr = conn.query_iter(sql).await?;
    let mut sets = Vec::new();
    let mut ok = None;
    // Bounded: a statement yields a handful of result sets at most.
    for _ in 0..1000 {
        let cols = qr.columns();
        match cols {
            Some(cols) if !cols.is_empty() => {
                let columns = cols
                    .iter()
                    .map(|c| {
                        let ty = c.column_type();
                        Col {
                            name: c.name_str().into_owned(),
                            ty: ty as u8,
                            unsigned: c.flags().contains(ColumnFlags::UNSIGNED_FLAG)
                                && is_numeric(ty as u8),
                            binary: is_stringish(ty as u8) && c.character_set() == 63,
                        }
                    })
                    .collect();
                let rows: Vec<Row> = qr.collect().await?;
                let rows = rows
                    .into_iter()
                    .map(|r| r.unwrap().into_iter().map(cell).collect())
                    .collect();
                sets.push(ResultSet { columns, rows });
            }
            _ => {
                ok = Some(Outcome::Ok {
                    affected: qr.affected_rows(),
                    warnings: qr.warnings(),
                });
                let _: Vec<Row> = qr.collect().await?;
            }
        }
        if qr.is_empty() {
            break;
        }
    }
    drop(qr);
    if sets.is_empty() {
        Ok(ok.unwrap_or(Outcome::Ok {
            affected: 0,
            warnings: 0,
        }))
    } else {
        Ok(Outcome::Rows(sets))
    }
}
