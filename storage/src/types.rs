//! Column types: their names, widths and ranges. Converting a value into a
//! column's storage shape is SQL semantics (`trireme_sql::coerce`).

use serde::{Deserialize, Serialize};

use crate::value::{format_double, Value};

/// Integer widths (bytes), as MySQL's TINYINT .. BIGINT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntWidth {
    Tiny,
    Small,
    Medium,
    Int,
    Big,
}

impl IntWidth {
    fn bits(self) -> u32 {
        match self {
            IntWidth::Tiny => 8,
            IntWidth::Small => 16,
            IntWidth::Medium => 24,
            IntWidth::Int => 32,
            IntWidth::Big => 64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            IntWidth::Tiny => "tinyint",
            IntWidth::Small => "smallint",
            IntWidth::Medium => "mediumint",
            IntWidth::Int => "int",
            IntWidth::Big => "bigint",
        }
    }

    pub fn range(self, unsigned: bool) -> (i128, i128) {
        let bits = self.bits();
        if unsigned {
            (0, (1i128 << bits) - 1)
        } else {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqlType {
    Int {
        width: IntWidth,
        unsigned: bool,
    },
    /// BOOL / BOOLEAN: TINYINT(1).
    Bool,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Float,
    Double,
    Char(u32),
    Varchar(u32),
    /// TINYTEXT / TEXT / MEDIUMTEXT / LONGTEXT, by maximum byte length.
    Text(u32),
    Binary(u32),
    Varbinary(u32),
    /// TINYBLOB / BLOB / MEDIUMBLOB / LONGBLOB, by maximum byte length.
    Blob(u32),
    Date,
    DateTime(u8),
    Timestamp(u8),
    Enum(Vec<String>),
    /// TIME(fsp): a signed duration within ±838:59:59 (appended last so
    /// checkpoints written before keep their tags).
    Time(u8),
    /// MariaDB's UUID: 128 bits shown as 8-4-4-4-12 lowercase hex.
    Uuid,
    /// SET('a', 'b', ...): up to 64 members; a value is the members it
    /// holds, comma-joined in definition order (its bit mask is their
    /// positions). Appended last so older checkpoints keep their tags.
    Set(Vec<String>),
    /// YEAR (MariaDB's YEAR(4)): 1901..=2155, or 0 for the zero year; kept
    /// as an integer.
    Year,
    /// BIT(M), 1..=64 bits: kept as an unsigned integer below 2^M, sent to
    /// clients as its ceil(M/8) big-endian bytes.
    Bit(u8),
}

impl SqlType {
    pub fn is_integer(&self) -> bool {
        matches!(self, SqlType::Int { .. } | SqlType::Bool)
    }

    /// Integers, BOOL, YEAR, DECIMAL and floating point: the types a hex
    /// literal is a number for.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            SqlType::Int { .. }
                | SqlType::Bool
                | SqlType::Year
                | SqlType::Decimal { .. }
                | SqlType::Float
                | SqlType::Double
        )
    }

    pub fn is_unsigned(&self) -> bool {
        matches!(self, SqlType::Int { unsigned: true, .. })
    }

    pub fn is_string(&self) -> bool {
        matches!(
            self,
            SqlType::Char(_)
                | SqlType::Varchar(_)
                | SqlType::Text(_)
                | SqlType::Enum(_)
                | SqlType::Set(_)
        )
    }

    pub fn is_binary(&self) -> bool {
        matches!(
            self,
            SqlType::Binary(_) | SqlType::Varbinary(_) | SqlType::Blob(_)
        )
    }

    pub fn is_blob_or_text(&self) -> bool {
        matches!(self, SqlType::Text(_) | SqlType::Blob(_))
    }

    /// The type as SHOW CREATE TABLE and information_schema spell it.
    pub fn sql_name(&self) -> String {
        match self {
            // MariaDB shows the default display width (the digits of the
            // type's widest value, plus one for a sign).
            SqlType::Int { width, unsigned } => {
                let digits = match (width, unsigned) {
                    (IntWidth::Tiny, false) => 4,
                    (IntWidth::Tiny, true) => 3,
                    (IntWidth::Small, false) => 6,
                    (IntWidth::Small, true) => 5,
                    (IntWidth::Medium, false) => 9,
                    (IntWidth::Medium, true) => 8,
                    (IntWidth::Int, false) => 11,
                    (IntWidth::Int, true) => 10,
                    (IntWidth::Big, _) => 20,
                };
                let mut s = format!("{}({digits})", width.name());
                if *unsigned {
                    s.push_str(" unsigned");
                }
                s
            }
            SqlType::Bool => "tinyint(1)".into(),
            SqlType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            SqlType::Float => "float".into(),
            SqlType::Double => "double".into(),
            SqlType::Char(n) => format!("char({n})"),
            SqlType::Varchar(n) => format!("varchar({n})"),
            SqlType::Text(n) => text_name("text", *n),
            SqlType::Binary(n) => format!("binary({n})"),
            SqlType::Varbinary(n) => format!("varbinary({n})"),
            SqlType::Blob(n) => text_name("blob", *n),
            SqlType::Date => "date".into(),
            SqlType::DateTime(0) => "datetime".into(),
            SqlType::DateTime(f) => format!("datetime({f})"),
            SqlType::Timestamp(0) => "timestamp".into(),
            SqlType::Timestamp(f) => format!("timestamp({f})"),
            SqlType::Time(0) => "time".into(),
            SqlType::Time(f) => format!("time({f})"),
            SqlType::Uuid => "uuid".into(),
            SqlType::Year => "year(4)".into(),
            SqlType::Bit(m) => format!("bit({m})"),
            SqlType::Enum(vs) => {
                let items: Vec<String> = vs
                    .iter()
                    .map(|v| format!("'{}'", v.replace('\'', "''")))
                    .collect();
                format!("enum({})", items.join(","))
            }
            SqlType::Set(vs) => {
                let items: Vec<String> = vs
                    .iter()
                    .map(|v| format!("'{}'", v.replace('\'', "''")))
                    .collect();
                format!("set({})", items.join(","))
            }
        }
    }

    /// The bare type name (information_schema.COLUMNS.DATA_TYPE).
    pub fn data_type_name(&self) -> String {
        let full = self.sql_name();
        full.split(['(', ' ']).next().unwrap_or("").to_string()
    }

    /// Maximum length in characters/bytes for string types.
    pub fn max_len(&self) -> Option<u32> {
        match self {
            SqlType::Char(n)
            | SqlType::Varchar(n)
            | SqlType::Text(n)
            | SqlType::Binary(n)
            | SqlType::Varbinary(n)
            | SqlType::Blob(n) => Some(*n),
            // In characters: the longest member, or all members and commas.
            SqlType::Enum(m) => Some(
                m.iter()
                    .map(|s| s.chars().count() as u32)
                    .max()
                    .unwrap_or(0),
            ),
            SqlType::Set(m) => Some(
                (m.iter().map(|s| s.chars().count() as u32 + 1).sum::<u32>()).saturating_sub(1),
            ),
            _ => None,
        }
    }
}

fn text_name(base: &str, n: u32) -> String {
    match n {
        255 => format!("tiny{base}"),
        65_535 => base.to_string(),
        16_777_215 => format!("medium{base}"),
        _ => format!("long{base}"),
    }
}

/// Renders a value as a SQL literal (SHOW CREATE TABLE defaults, messages).
pub fn sql_literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(_) | Value::UInt(_) | Value::Decimal(_) => {
            format!("'{}'", v.to_text_lossy())
        }
        Value::Double(d) => format!("'{}'", format_double(*d)),
        other => format!("'{}'", other.to_text_lossy().replace('\'', "''")),
    }
}
