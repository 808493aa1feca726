//! The /next header values (deadline, client context, Cognito identity, trace id, tenant id, ...).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| _fastric::fuzzing::decode_next_headers(data, 1_700_000_000_000));
