//! Everything a Runtime API might send on one connection, read as responses by fastric's client.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| _fastric::fuzzing::read_responses(data));
