//! What a brand-new node starts with.

use trireme_storage::Store;

/// The empty catalog of a new node: no user databases; the system schemas
/// (information_schema, mysql, ...) are answered virtually.
pub fn init_catalog(store: &Store) {
    let cat = (*store.catalog()).clone();
    store.set_catalog(cat);
}

/// A random RFC 4122 version-4 UUID (cluster state UUID).
pub fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format_uuid(&b)
}

/// 16 bytes in the 8-4-4-4-12 hex form.
pub fn format_uuid(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
