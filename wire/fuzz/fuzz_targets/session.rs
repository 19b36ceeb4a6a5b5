//! The server's connection state machine on arbitrary input: raw bytes
//! before login, or arbitrary command packets after a real login.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    trireme_wire::fuzzing::run_session(data);
});
