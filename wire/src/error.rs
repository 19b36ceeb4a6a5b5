//! Errors: what a client sees ([`MySqlError`]) and why a connection ended
//! ([`WireError`]).
//!
//! Invariants:
//! - A [`MySqlError`] is always a complete ERR packet body: a MySQL error code,
//!   a five-byte SQLSTATE and a message. It never ends the connection by
//!   itself; the driver sends it and reads the next command.
//! - A [`WireError`] always ends the connection. The driver logs it (with the
//!   connection id) and, when the peer can still understand it, first sends a
//!   matching ERR packet (see [`WireError::to_client_error`]).

use std::fmt;

/// An error reported to the client as an ERR packet.
///
/// Codes and SQLSTATEs follow MySQL's `mysqld_error.h`, so drivers map them
/// the way they do for a real server (for example 1213/40001 is retried by
/// most ORMs as a deadlock).
#[derive(Clone, PartialEq, Eq)]
pub struct MySqlError {
    /// MySQL error number, e.g. 1045.
    pub code: u16,
    /// Five ASCII characters, e.g. `*b"28000"`.
    pub sqlstate: [u8; 5],
    /// Human-readable message (sent as is; keep it short and single-line).
    pub message: String,
}

impl MySqlError {
    /// Builds an error from its parts. `sqlstate` must be 5 ASCII bytes; any
    /// other length is replaced by the generic `HY000`.
    pub fn new(code: u16, sqlstate: &str, message: impl Into<String>) -> Self {
        let mut state = *b"HY000";
        if sqlstate.len() == 5 && sqlstate.is_ascii() {
            state.copy_from_slice(sqlstate.as_bytes());
        }
        MySqlError {
            code,
            sqlstate: state,
            message: message.into(),
        }
    }

    /// The SQLSTATE as a string slice.
    pub fn sqlstate_str(&self) -> &str {
        std::str::from_utf8(&self.sqlstate).unwrap_or("HY000")
    }

    /// 1045 (28000): failed login.
    pub fn access_denied(user: &str, host: &str, using_password: bool) -> Self {
        let yes_no = if using_password { "YES" } else { "NO" };
        Self::new(
            codes::ER_ACCESS_DENIED_ERROR,
            "28000",
            format!("Access denied for user '{user}'@'{host}' (using password: {yes_no})"),
        )
    }

    /// 1047 (08S01): unknown or unsupported command.
    pub fn unknown_command() -> Self {
        Self::new(codes::ER_UNKNOWN_COM_ERROR, "08S01", "Unknown command")
    }

    /// 1049 (42000): unknown database.
    pub fn unknown_database(db: &str) -> Self {
        Self::new(
            codes::ER_BAD_DB_ERROR,
            "42000",
            format!("Unknown database '{db}'"),
        )
    }

    /// 1064 (42000): syntax error, with the offending text.
    pub fn syntax(near: &str) -> Self {
        Self::new(
            codes::ER_PARSE_ERROR,
            "42000",
            format!(
                "You have an error in your SQL syntax; check the manual that corresponds to \
                 your server version for the right syntax to use near '{near}'"
            ),
        )
    }

    /// 1146 (42S02): table does not exist.
    pub fn no_such_table(db: &str, table: &str) -> Self {
        Self::new(
            codes::ER_NO_SUCH_TABLE,
            "42S02",
            format!("Table '{db}.{table}' doesn't exist"),
        )
    }

    /// 1153 (08S01): a packet larger than `max_allowed_packet`.
    pub fn packet_too_large() -> Self {
        Self::new(
            codes::ER_NET_PACKET_TOO_LARGE,
            "08S01",
            "Got a packet bigger than 'max_allowed_packet' bytes",
        )
    }

    /// 1213 (40001): deadlock / certification failure; the client should retry
    /// the transaction.
    pub fn deadlock() -> Self {
        Self::new(
            codes::ER_LOCK_DEADLOCK,
            "40001",
            "Deadlock found when trying to get lock; try restarting transaction",
        )
    }

    /// 1243 (HY000): unknown prepared statement handler.
    pub fn unknown_stmt(id: u32, func: &str) -> Self {
        Self::new(
            codes::ER_UNKNOWN_STMT_HANDLER,
            "HY000",
            format!("Unknown prepared statement handler ({id}) given to {func}"),
        )
    }

    /// 1210 (HY000): malformed COM_STMT_EXECUTE arguments.
    pub fn wrong_arguments(func: &str) -> Self {
        Self::new(
            codes::ER_WRONG_ARGUMENTS,
            "HY000",
            format!("Incorrect arguments to {func}"),
        )
    }

    /// 1105 (HY000): anything without a more specific code.
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::new(codes::ER_UNKNOWN_ERROR, "HY000", message)
    }

    /// 1047 (08S01) with Galera's text: the node is not part of the primary
    /// component and refuses the command.
    pub fn not_ready() -> Self {
        Self::new(
            codes::ER_UNKNOWN_COM_ERROR,
            "08S01",
            "WSREP has not yet prepared node for application use",
        )
    }
}

impl fmt::Debug for MySqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ERROR {} ({}): {}",
            self.code,
            self.sqlstate_str(),
            self.message
        )
    }
}

impl fmt::Display for MySqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for MySqlError {}

/// Checks that client text is UTF-8 (the connection character set is
/// utf8mb4), or returns MySQL's 1300 error naming the first bad bytes.
pub fn utf8(bytes: &[u8]) -> Result<&str, MySqlError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let bad: String = bytes[at..]
            .iter()
            .take(4)
            .map(|b| format!("\\x{b:02X}"))
            .collect();
        MySqlError::new(
            codes::ER_INVALID_CHARACTER_STRING,
            "HY000",
            format!("Invalid utf8mb4 character string: '{bad}'"),
        )
    })
}

/// MySQL error numbers used by this crate (and handy for handlers).
pub mod codes {
    /// Bad handshake.
    pub const ER_HANDSHAKE_ERROR: u16 = 1043;
    /// Access denied (wrong user or password).
    pub const ER_ACCESS_DENIED_ERROR: u16 = 1045;
    /// Unknown command.
    pub const ER_UNKNOWN_COM_ERROR: u16 = 1047;
    /// Unknown database.
    pub const ER_BAD_DB_ERROR: u16 = 1049;
    /// Syntax error.
    pub const ER_PARSE_ERROR: u16 = 1064;
    /// Unknown error.
    pub const ER_UNKNOWN_ERROR: u16 = 1105;
    /// Table doesn't exist.
    pub const ER_NO_SUCH_TABLE: u16 = 1146;
    /// Packet bigger than max_allowed_packet.
    pub const ER_NET_PACKET_TOO_LARGE: u16 = 1153;
    /// Packets out of order.
    pub const ER_NET_PACKETS_OUT_OF_ORDER: u16 = 1156;
    /// Read timeout.
    pub const ER_NET_READ_INTERRUPTED: u16 = 1159;
    /// Incorrect arguments to a statement function.
    pub const ER_WRONG_ARGUMENTS: u16 = 1210;
    /// Deadlock / certification failure.
    pub const ER_LOCK_DEADLOCK: u16 = 1213;
    /// Unknown prepared statement handler.
    pub const ER_UNKNOWN_STMT_HANDLER: u16 = 1243;
    /// Invalid character string for the connection character set.
    pub const ER_INVALID_CHARACTER_STRING: u16 = 1300;
    /// No open cursor for COM_STMT_FETCH.
    pub const ER_STMT_HAS_NO_OPEN_CURSOR: u16 = 1421;
    /// Too many prepared statements.
    pub const ER_MAX_PREPARED_STMT_COUNT_REACHED: u16 = 1461;
    /// Connection was killed.
    pub const ER_CONNECTION_KILLED: u16 = 1927;
    /// Malformed communication packet.
    pub const ER_MALFORMED_PACKET: u16 = 1835;
    /// Insecure transport refused.
    pub const ER_SECURE_TRANSPORT_REQUIRED: u16 = 3159;
}

/// Why a connection ended abnormally. Every variant ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The socket failed or was closed by the peer in the middle of a packet.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent bytes that are not a valid MySQL packet or message.
    #[error("malformed input: {0}")]
    Malformed(String),
    /// A packet (after joining its 16 MiB fragments) exceeded the limit.
    #[error("packet of at least {got} bytes exceeds max_allowed_packet ({limit})")]
    PacketTooLarge {
        /// Bytes announced so far.
        got: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A packet arrived with an unexpected sequence id.
    #[error("packets out of order: expected sequence id {expected}, got {got}")]
    OutOfOrder {
        /// The expected sequence id.
        expected: u8,
        /// The received one.
        got: u8,
    },
    /// The peer did not send (or accept) data in time.
    #[error("timed out while {0}")]
    Timeout(&'static str),
    /// Login failed or the handshake was refused; the ERR was already sent.
    #[error("login refused: {0}")]
    Refused(MySqlError),
    /// TLS setup failed.
    #[error("tls: {0}")]
    Tls(String),
}

impl WireError {
    /// The ERR packet worth sending before closing, if any.
    pub fn to_client_error(&self) -> Option<MySqlError> {
        match self {
            WireError::PacketTooLarge { .. } => Some(MySqlError::packet_too_large()),
            WireError::OutOfOrder { .. } => Some(MySqlError::new(
                codes::ER_NET_PACKETS_OUT_OF_ORDER,
                "08S01",
                "Got packets out of order",
            )),
            WireError::Malformed(_) => Some(MySqlError::new(
                codes::ER_MALFORMED_PACKET,
                "HY000",
                "Malformed communication packet.",
            )),
            WireError::Timeout(_) => Some(MySqlError::new(
                codes::ER_NET_READ_INTERRUPTED,
                "08S01",
                "Got timeout reading communication packets",
            )),
            _ => None,
        }
    }

    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        WireError::Malformed(what.into())
    }
}
