//! A response head (status line and headers), parsed strictly and with the control-byte retry.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| _fastric::fuzzing::parse_head(data));
