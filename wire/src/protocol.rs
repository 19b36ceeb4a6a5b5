//! Message layouts of the MySQL client/server protocol (payloads only; the
//! framing lives in [`crate::codec`]).
//!
//! Builders write server-to-client messages; parsers read client-to-server
//! messages and never panic (see [`crate::buf::Reader`]). The layouts follow
//! the MySQL "Client/Server Protocol" documentation:
//!
//! | message | layout |
//! |---|---|
//! | HandshakeV10 | `0x0a`, version NUL, conn id u32, salt bytes 0..8, 0, caps lo u16, charset u8, status u16, caps hi u16, 21, 10×0, salt bytes 8..20, NUL, plugin NUL |
//! | HandshakeResponse41 | caps u32, max packet u32, charset u8, 23×0, user NUL, auth (lenenc / u8-len / NUL per caps), [db NUL], [plugin NUL], [attrs lenenc] |
//! | SSLRequest | the first 32 bytes of HandshakeResponse41, with CLIENT_SSL |
//! | OK | `0x00` (or `0xfe` ending a result set under DEPRECATE_EOF), affected lenenc, last id lenenc, status u16, warnings u16, [info lenenc, only if non-empty] |
//! | ERR | `0xff`, code u16, `#`, 5-byte sqlstate, message EOF |
//! | EOF | `0xfe`, warnings u16, status u16 |
//! | ColumnDefinition41 | "def", schema, table, org_table, name, org_name (all lenenc), `0x0c`, charset u16, length u32, type u8, flags u16, decimals u8, 0u16 |
//! | COM_STMT_PREPARE_OK | `0x00`, stmt id u32, columns u16, params u16, 0, warnings u16 |
//! | COM_STMT_EXECUTE | `0x17`, stmt id u32, flags u8, iterations u32, [NULL bitmap, new-params-bound u8, [type u8, flags u8]×n, values] |
//! | binary row | `0x00`, NULL bitmap (offset 2), values |

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::value::Value;

use crate::buf::{put_lenenc_bytes, put_lenenc_int, put_nul_bytes, Reader};
use crate::error::{MySqlError, WireError};
use crate::types::ColumnDef;
use crate::value::{self, EncodeError};

type Result<T> = std::result::Result<T, WireError>;

/// Writes the initial handshake (protocol version 10).
pub fn handshake_v10(
    server_version: &str,
    connection_id: u32,
    salt: &[u8; 20],
    caps: CapabilityFlags,
    charset: u8,
    status: StatusFlags,
    plugin: &str,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.push(10);
    put_nul_bytes(&mut b, server_version.as_bytes());
    b.extend_from_slice(&connection_id.to_le_bytes());
    b.extend_from_slice(&salt[..8]);
    b.push(0);
    let c = caps.bits();
    b.extend_from_slice(&(c as u16).to_le_bytes());
    b.push(charset);
    b.extend_from_slice(&status.bits().to_le_bytes());
    b.extend_from_slice(&((c >> 16) as u16).to_le_bytes());
    b.push(21);
    b.extend_from_slice(&[0u8; 10]);
    b.extend_from_slice(&salt[8..]);
    b.push(0);
    put_nul_bytes(&mut b, plugin.as_bytes());
    b
}

/// Writes an OK packet. `header` is `0x00`, or `0xfe` when it ends a result
/// set under CLIENT_DEPRECATE_EOF.
pub fn ok_packet(
    header: u8,
    affected_rows: u64,
    last_insert_id: u64,
    status: StatusFlags,
    warnings: u16,
    info: &str,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + info.len());
    b.push(header);
    put_lenenc_int(&mut b, affected_rows);
    put_lenenc_int(&mut b, last_insert_id);
    b.extend_from_slice(&status.bits().to_le_bytes());
    b.extend_from_slice(&warnings.to_le_bytes());
    // Documented as string<EOF>, but MySQL's net_send_ok writes it
    // length-encoded, and libmariadb and mysql_common read it that way.
    if !info.is_empty() {
        put_lenenc_bytes(&mut b, info.as_bytes());
    }
    b
}

/// Writes an ERR packet (with the SQLSTATE marker, as every 4.1+ client
/// expects once it announced CLIENT_PROTOCOL_41).
pub fn err_packet(err: &MySqlError, with_sqlstate: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + err.message.len());
    b.push(0xff);
    b.extend_from_slice(&err.code.to_le_bytes());
    if with_sqlstate {
        b.push(b'#');
        b.extend_from_slice(&err.sqlstate);
    }
    b.extend_from_slice(err.message.as_bytes());
    b
}

/// Writes a (pre-DEPRECATE_EOF) EOF packet.
pub fn eof_packet(warnings: u16, status: StatusFlags) -> Vec<u8> {
    let mut b = Vec::with_capacity(5);
    b.push(0xfe);
    b.extend_from_slice(&warnings.to_le_bytes());
    b.extend_from_slice(&status.bits().to_le_bytes());
    b
}

/// Writes a ColumnDefinition41.
pub fn column_def(c: &ColumnDef, out: &mut Vec<u8>) {
    put_lenenc_bytes(out, b"def");
    put_lenenc_bytes(out, c.schema.as_bytes());
    put_lenenc_bytes(out, c.table.as_bytes());
    put_lenenc_bytes(out, c.org_table.as_bytes());
    put_lenenc_bytes(out, c.name.as_bytes());
    put_lenenc_bytes(out, c.org_name.as_bytes());
    out.push(0x0c);
    out.extend_from_slice(&c.charset.to_le_bytes());
    out.extend_from_slice(&c.column_length.to_le_bytes());
    out.push(c.column_type as u8);
    out.extend_from_slice(&c.flags.bits().to_le_bytes());
    out.push(c.decimals);
    out.extend_from_slice(&[0, 0]);
}

/// Parses a ColumnDefinition41 (client side).
pub fn parse_column_def(payload: &[u8]) -> Result<ColumnDef> {
    use mysql_common::constants::{ColumnFlags, ColumnType};
    let mut r = Reader::new(payload);
    let mut s =
        || -> Result<String> { Ok(String::from_utf8_lossy(r.lenenc_bytes()?).into_owned()) };
    let _catalog = s()?;
    let schema = s()?;
    let table = s()?;
    let org_table = s()?;
    let name = s()?;
    let org_name = s()?;
    let _fixed_len = r.lenenc_int()?;
    let charset = r.u16()?;
    let column_length = r.u32()?;
    let ty = r.u8()?;
    let column_type = ColumnType::try_from(ty)
        .map_err(|_| WireError::malformed(format!("unknown column type {ty:#x}")))?;
    let flags = ColumnFlags::from_bits_retain(r.u16()?);
    let decimals = r.u8()?;
    Ok(ColumnDef {
        schema,
        table,
        org_table,
        name,
        org_name,
        column_type,
        flags,
        charset,
        column_length,
        decimals,
    })
}

/// Writes COM_STMT_PREPARE_OK.
pub fn stmt_prepare_ok(stmt_id: u32, columns: u16, params: u16, warnings: u16) -> Vec<u8> {
    let mut b = Vec::with_capacity(12);
    b.push(0);
    b.extend_from_slice(&stmt_id.to_le_bytes());
    b.extend_from_slice(&columns.to_le_bytes());
    b.extend_from_slice(&params.to_le_bytes());
    b.push(0);
    b.extend_from_slice(&warnings.to_le_bytes());
    b
}

/// Writes an AuthSwitchRequest.
pub fn auth_switch_request(plugin: &str, salt: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.push(0xfe);
    put_nul_bytes(&mut b, plugin.as_bytes());
    b.extend_from_slice(salt);
    b.push(0);
    b
}

/// Writes an AuthMoreData packet (`0x01` + data).
pub fn auth_more_data(data: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(1 + data.len());
    b.push(0x01);
    b.extend_from_slice(data);
    b
}

/// Appends a text-protocol row.
pub fn text_row(row: &[Value], cols: &[ColumnDef], out: &mut Vec<u8>) {
    for (v, c) in row.iter().zip(cols) {
        value::put_text_cell(v, c, out);
    }
}

/// Appends a binary-protocol row.
pub fn binary_row(
    row: &[Value],
    cols: &[ColumnDef],
    out: &mut Vec<u8>,
) -> std::result::Result<(), EncodeError> {
    out.push(0);
    let bitmap_at = out.len();
    let bitmap_len = (cols.len() + 7 + 2) / 8;
    out.resize(bitmap_at + bitmap_len, 0);
    for (i, (v, c)) in row.iter().zip(cols).enumerate() {
        if matches!(v, Value::NULL) {
            let bit = i + 2;
            out[bitmap_at + bit / 8] |= 1 << (bit % 8);
        } else {
            value::put_binary_cell(v, c, out)?;
        }
    }
    Ok(())
}

/// A parsed HandshakeResponse41 (or, with `ssl_request` set, an SSLRequest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// Capabilities the client announced.
    pub caps: CapabilityFlags,
    /// The client's max packet size.
    pub max_packet: u32,
    /// The client's collation id.
    pub charset: u8,
    /// True when this is only an SSLRequest: TLS must start now.
    pub ssl_request: bool,
    /// User name.
    pub user: Vec<u8>,
    /// Auth plugin response.
    pub auth_response: Vec<u8>,
    /// Initial database.
    pub database: Option<Vec<u8>>,
    /// The plugin the client used for `auth_response`.
    pub plugin: Option<Vec<u8>>,
    /// Connection attributes.
    pub attrs: Vec<(String, String)>,
}

fn parse_attrs(r: &mut Reader<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(block) = r.lenenc_bytes() else {
        return out;
    };
    let mut a = Reader::new(block);
    while !a.is_empty() {
        match (a.lenenc_bytes(), a.lenenc_bytes()) {
            (Ok(k), Ok(v)) if out.len() < 64 => out.push((
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )),
            _ => break,
        }
    }
    out
}

/// Parses a HandshakeResponse41 or SSLRequest.
pub fn parse_handshake_response(payload: &[u8]) -> Result<HandshakeResponse> {
    let mut r = Reader::new(payload);
    if payload.len() < 32 {
        return Err(WireError::malformed(format!(
            "handshake response of {} bytes",
            payload.len()
        )));
    }
    let caps = CapabilityFlags::from_bits_retain(r.u32()?);
    if !caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
        return Err(WireError::malformed(
            "client does not speak protocol 4.1".to_string(),
        ));
    }
    let max_packet = r.u32()?;
    let charset = r.u8()?;
    r.take(23)?;
    let mut resp = HandshakeResponse {
        caps,
        max_packet,
        charset,
        ssl_request: false,
        user: Vec::new(),
        auth_response: Vec::new(),
        database: None,
        plugin: None,
        attrs: Vec::new(),
    };
    if r.is_empty() {
        if !caps.contains(CapabilityFlags::CLIENT_SSL) {
            return Err(WireError::malformed("empty handshake response"));
        }
        resp.ssl_request = true;
        return Ok(resp);
    }
    resp.user = r.nul_bytes()?.to_vec();
    resp.auth_response = if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        r.lenenc_bytes()?.to_vec()
    } else if caps.contains(CapabilityFlags::CLIENT_SECURE_CONNECTION) {
        let n = r.u8()?;
        r.take(usize::from(n))?.to_vec()
    } else {
        r.nul_bytes()?.to_vec()
    };
    if caps.contains(CapabilityFlags::CLIENT_CONNECT_WITH_DB) && !r.is_empty() {
        let db = r.nul_bytes_lenient();
        if !db.is_empty() {
            resp.database = Some(db.to_vec());
        }
    }
    if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) && !r.is_empty() {
        resp.plugin = Some(r.nul_bytes_lenient().to_vec());
    }
    if caps.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS) && !r.is_empty() {
        resp.attrs = parse_attrs(&mut r);
    }
    Ok(resp)
}

/// A parsed COM_CHANGE_USER (without the command byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeUser {
    /// New user.
    pub user: Vec<u8>,
    /// Auth response computed with the connection's current salt.
    pub auth_response: Vec<u8>,
    /// New default database.
    pub database: Option<Vec<u8>>,
    /// New character set, if sent.
    pub charset: Option<u16>,
    /// Plugin used for `auth_response`.
    pub plugin: Option<Vec<u8>>,
}

/// Parses the body of COM_CHANGE_USER, formatted per the negotiated `caps`.
pub fn parse_change_user(body: &[u8], caps: CapabilityFlags) -> Result<ChangeUser> {
    let mut r = Reader::new(body);
    let user = r.nul_bytes()?.to_vec();
    let auth_response = if caps.contains(CapabilityFlags::CLIENT_SECURE_CONNECTION) {
        let n = r.u8()?;
        r.take(usize::from(n))?.to_vec()
    } else {
        r.nul_bytes()?.to_vec()
    };
    let db = r.nul_bytes_lenient();
    let database = (!db.is_empty()).then(|| db.to_vec());
    let charset = if r.remaining() >= 2 {
        Some(r.u16()?)
    } else {
        None
    };
    let plugin = if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) && !r.is_empty() {
        Some(r.nul_bytes_lenient().to_vec())
    } else {
        None
    };
    Ok(ChangeUser {
        user,
        auth_response,
        database,
        charset,
        plugin,
    })
}

/// A command packet, split by its first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// COM_QUIT.
    Quit,
    /// COM_INIT_DB with the schema name.
    InitDb(&'a [u8]),
    /// COM_QUERY with the SQL text.
    Query(&'a [u8]),
    /// COM_STATISTICS.
    Statistics,
    /// COM_PING.
    Ping,
    /// COM_CHANGE_USER with the rest of the payload.
    ChangeUser(&'a [u8]),
    /// COM_STMT_PREPARE with the SQL text.
    StmtPrepare(&'a [u8]),
    /// COM_STMT_EXECUTE with the whole payload after the command byte.
    StmtExecute(&'a [u8]),
    /// COM_STMT_SEND_LONG_DATA.
    StmtSendLongData {
        /// Statement.
        stmt_id: u32,
        /// Parameter index.
        param: u16,
        /// Chunk to append.
        data: &'a [u8],
    },
    /// COM_STMT_CLOSE.
    StmtClose(u32),
    /// COM_STMT_RESET.
    StmtReset(u32),
    /// COM_STMT_FETCH.
    StmtFetch(u32),
    /// COM_SET_OPTION (0 = multi-statements on, 1 = off).
    SetOption(u16),
    /// COM_RESET_CONNECTION.
    ResetConnection,
    /// Any other command byte.
    Other(u8),
}

/// Splits a command payload. Fails only on a truncated fixed-size command.
pub fn parse_command(payload: &[u8]) -> Result<Command<'_>> {
    let mut r = Reader::new(payload);
    let code = r.u8()?;
    Ok(match code {
        0x01 => Command::Quit,
        0x02 => Command::InitDb(r.rest()),
        0x03 => Command::Query(r.rest()),
        0x09 => Command::Statistics,
        0x0e => Command::Ping,
        0x11 => Command::ChangeUser(r.rest()),
        0x16 => Command::StmtPrepare(r.rest()),
        0x17 => Command::StmtExecute(r.rest()),
        0x18 => Command::StmtSendLongData {
            stmt_id: r.u32()?,
            param: r.u16()?,
            data: r.rest(),
        },
        0x19 => Command::StmtClose(r.u32()?),
        0x1a => Command::StmtReset(r.u32()?),
        0x1b => Command::SetOption(r.u16()?),
        0x1c => Command::StmtFetch(r.u32()?),
        0x1f => Command::ResetConnection,
        other => Command::Other(other),
    })
}

/// The fixed head of COM_STMT_EXECUTE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecuteHead {
    /// Statement id (`0xffffffff` = the last prepared statement, MariaDB).
    pub stmt_id: u32,
    /// Cursor flags (ignored: results are always sent in full).
    pub flags: u8,
}

/// Parameter type as bound by the client: raw type byte and UNSIGNED flag.
pub type ParamType = (u8, bool);

/// Reads the head of COM_STMT_EXECUTE; returns it and the parameter block.
pub fn parse_execute_head(body: &[u8]) -> Result<(ExecuteHead, &[u8])> {
    let mut r = Reader::new(body);
    let stmt_id = r.u32()?;
    let flags = r.u8()?;
    // Iteration count (always 1).
    if r.remaining() >= 4 {
        r.u32()?;
    } else {
        r.rest();
    }
    Ok((ExecuteHead { stmt_id, flags }, r.rest()))
}

/// Decodes the parameter block of COM_STMT_EXECUTE.
///
/// `types` holds the types bound by an earlier execute of the same
/// statement; when the client sends new types (new-params-bound = 1) they
/// replace it. When it does not (libmariadb re-executing without rebinding),
/// the remembered types are used; if there are none the request is invalid.
/// `long_data[i]` holds data sent with COM_STMT_SEND_LONG_DATA for parameter
/// i: such a parameter has no value in the packet. `long_data` may be
/// shorter than `n_params` (parameters without long data).
pub fn decode_execute_params(
    block: &[u8],
    n_params: usize,
    types: &mut Option<Vec<ParamType>>,
    long_data: &mut [Option<Vec<u8>>],
) -> Result<Vec<Value>> {
    if n_params == 0 {
        return Ok(Vec::new());
    }
    let mut r = Reader::new(block);
    let bitmap = r.take(n_params.div_ceil(8))?;
    let new_bound = r.u8()?;
    if new_bound == 1 {
        let mut t = Vec::with_capacity(n_params);
        for _ in 0..n_params {
            let ty = r.u8()?;
            let flags = r.u8()?;
            t.push((ty, flags & 0x80 != 0));
        }
        *types = Some(t);
    } else if new_bound != 0 {
        return Err(WireError::malformed(format!(
            "new-params-bound flag {new_bound}"
        )));
    }
    let Some(t) = types.as_ref().filter(|t| t.len() == n_params) else {
        return Err(WireError::malformed(
            "parameters were never bound (no types sent)",
        ));
    };
    let mut out = Vec::with_capacity(n_params);
    for (i, &(ty, unsigned)) in t.iter().enumerate().take(n_params) {
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            out.push(Value::NULL);
        } else if let Some(data) = long_data.get_mut(i).and_then(Option::take) {
            out.push(Value::Bytes(data));
        } else {
            out.push(value::decode_param(ty, unsigned, &mut r)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_layout() {
        let salt = *b"abcdefghijklmnopqrst";
        let p = handshake_v10(
            "10.11.99-MariaDB-trireme",
            7,
            &salt,
            CapabilityFlags::CLIENT_PROTOCOL_41
                | CapabilityFlags::CLIENT_PLUGIN_AUTH
                | CapabilityFlags::CLIENT_SECURE_CONNECTION,
            45,
            StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            "mysql_native_password",
        );
        use mysql_common::io::ParseBuf;
        use mysql_common::packets::HandshakePacket;
        let h: HandshakePacket = ParseBuf(&p).parse(()).unwrap();
        assert_eq!(h.connection_id(), 7);
        assert_eq!(h.nonce(), salt.to_vec());
        assert_eq!(
            h.auth_plugin_name_ref(),
            Some(&b"mysql_native_password"[..])
        );
        assert_eq!(h.maria_db_server_version_parsed(), Some((10, 11, 99)));
    }

    #[test]
    fn parses_mysql_common_handshake_response() {
        use mysql_common::constants::CapabilityFlags as C;
        use mysql_common::packets::{AuthPlugin as P, HandshakeResponse as H};
        use mysql_common::proto::MySerialize;
        let caps = C::CLIENT_PROTOCOL_41
            | C::CLIENT_SECURE_CONNECTION
            | C::CLIENT_PLUGIN_AUTH
            | C::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | C::CLIENT_CONNECT_WITH_DB
            | C::CLIENT_CONNECT_ATTRS;
        let attrs = std::collections::HashMap::from([("_client".to_string(), "x".to_string())]);
        let h = H::new(
            Some(&[1u8, 2, 3][..]),
            (8, 0, 0),
            Some(&b"root"[..]),
            Some(&b"db1"[..]),
            Some(P::MysqlNativePassword),
            caps,
            Some(attrs),
            1 << 24,
        );
        let mut buf = Vec::new();
        h.serialize(&mut buf);
        let r = parse_handshake_response(&buf).unwrap();
        assert_eq!(r.user, b"root");
        assert_eq!(r.auth_response, [1, 2, 3]);
        assert_eq!(r.database.as_deref(), Some(&b"db1"[..]));
        assert_eq!(r.plugin.as_deref(), Some(&b"mysql_native_password"[..]));
        assert_eq!(r.attrs, vec![("_client".to_string(), "x".to_string())]);
    }

    #[test]
    fn execute_params_remember_types() {
        // Two params: LONG 7 and VAR_STRING "ab", types sent.
        let mut block = vec![0u8, 1, 3, 0, 253, 0];
        block.extend_from_slice(&7i32.to_le_bytes());
        block.extend_from_slice(&[2, b'a', b'b']);
        let mut types = None;
        let mut ld = vec![None, None];
        let v = decode_execute_params(&block, 2, &mut types, &mut ld).unwrap();
        assert_eq!(v, vec![Value::Int(7), Value::Bytes(b"ab".to_vec())]);
        // Re-execute without types (libmariadb): NULL for the first.
        let block2 = vec![1u8, 0, 1, b'z'];
        let v = decode_execute_params(&block2, 2, &mut types, &mut ld).unwrap();
        assert_eq!(v, vec![Value::NULL, Value::Bytes(b"z".to_vec())]);
        // Never bound: an error, not a guess.
        let mut none = None;
        assert!(decode_execute_params(&block2, 2, &mut none, &mut ld).is_err());
    }
}
