//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`, never in the wheel): the
//! Runtime API response reader and the `/next` header decoding, reachable from outside the crate.
//! Each function returns nothing and must never panic, whatever the bytes (docs/RELIABILITY.md).

use std::io::Write;
use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Duration;

use crate::http::{self, Connection, Response};

/// A loopback listener shared by all runs (one connection per input).
fn listener() -> &'static TcpListener {
    static LISTENER: OnceLock<TcpListener> = OnceLock::new();
    LISTENER.get_or_init(|| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
}

/// Parses `data` as a response head with [`http::parse_response_head`] (strict, then the
/// control-byte-tolerant retry).
pub fn parse_head(data: &[u8]) {
    let _ = http::parse_response_head(data);
}

/// Feeds `data` (at most 1 MiB is used) as everything a Runtime API sends on one connection, then
/// closes it, and reads responses from it with [`Connection::read_response`] until an error:
/// status lines, headers, `Content-Length`, chunked and until-EOF bodies, interim `1xx` answers.
pub fn read_responses(data: &[u8]) {
    let data = &data[..data.len().min(1 << 20)];
    let listener = listener();
    let addr = listener.local_addr().expect("local_addr");
    let Ok(mut conn) = Connection::connect(&[addr], Duration::from_secs(1)) else {
        return;
    };
    let Ok((mut server, _)) = listener.accept() else { return };
    let writer = {
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = server.write_all(&data);
            let _ = server.shutdown(std::net::Shutdown::Write);
            // Keep the socket open until the reader is done, so the close is an EOF, not a reset.
            let _ = std::io::Read::read(&mut server, &mut [0u8; 1]);
        })
    };
    let mut idle = || true;
    for _ in 0..64 {
        match conn.read_response(&mut idle) {
            Ok(response) if response.keep_alive => {}
            _ => break,
        }
    }
    drop(conn);
    let _ = writer.join();
}

/// Decodes `/next` headers from `data`: lines (split at `\n`) become the values of, in order,
/// `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Client-Context`, `-Cognito-Identity`,
/// `-Trace-Id`, `-Aws-Tenant-Id`, `-Invocation-Id`, `-Invoked-Function-Arn` and `Content-Type`;
/// the rest is the body. Runs the same decoding a real `/next` answer gets.
pub fn decode_next_headers(data: &[u8], now_ms: i64) {
    use crate::headers as h;
    let names = [
        h::LAMBDA_RUNTIME_AWS_REQUEST_ID,
        h::LAMBDA_RUNTIME_DEADLINE_MS,
        h::LAMBDA_RUNTIME_CLIENT_CONTEXT,
        h::LAMBDA_RUNTIME_COGNITO_IDENTITY,
        h::LAMBDA_RUNTIME_TRACE_ID,
        h::LAMBDA_RUNTIME_AWS_TENANT_ID,
        h::LAMBDA_RUNTIME_INVOCATION_ID,
        h::LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN,
        h::CONTENT_TYPE,
    ];
    let mut parts = data.splitn(names.len() + 1, |b| *b == b'\n');
    let headers = names
        .iter()
        .zip(parts.by_ref())
        .map(|(name, value)| ((*name).to_owned(), value.to_vec()))
        .collect();
    let body = parts.next().unwrap_or_default().to_vec();
    let response = Response {
        status: 200,
        headers,
        body,
        keep_alive: true,
    };
    let _ = crate::runtime_api::parse_invocation(response, now_ms);
}
