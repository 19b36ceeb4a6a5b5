//! Packet framing and every message parser on arbitrary bytes: no panic,
//! no payload over the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    trireme_wire::fuzzing::decode_everything(data);
});
