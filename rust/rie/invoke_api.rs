//! The invoke side: `POST /2015-03-31/functions/{name}/invocations`, answering like the Lambda
//! Invoke API (status codes, `X-Amz-Function-Error`, error documents).

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::json_check::{self, Kind};
use super::pool::Pool;
use super::report;
use super::runtime_api_server::json_response;
use super::sandbox::{error_detail, Body, Emulator, InvokeRequest, Outcome};
use super::{json_string, read_body, MAX_EVENT_PAYLOAD, MAX_PAYLOAD, MAX_REQUEST_PAYLOAD};

const FUNCTION_ERROR: HeaderName = HeaderName::from_static("x-amz-function-error");
const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
pub(crate) const EXECUTED_VERSION: HeaderName = HeaderName::from_static("x-amz-executed-version");
const LOG_RESULT: HeaderName = HeaderName::from_static("x-amz-log-result");

/// Longest `X-Amz-Client-Context` the Invoke API accepts, in base64 characters ("up to 3,583 bytes
/// of base64-encoded data", API reference `Invoke`, `ClientContext`).
pub(crate) const MAX_CLIENT_CONTEXT: usize = 3583;

/// Sets `X-Amzn-RequestId` (the service sends it on every answer, errors included).
fn with_request_id(mut response: Response<Body>, request_id: &str) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}

/// An Invoke API error answer: `{"Type":"User","message":…}` with `X-Amzn-ErrorType` and a fresh
/// `X-Amzn-RequestId`.
pub(crate) fn service_error(status: StatusCode, error_type: &'static str, message: &str) -> Response<Body> {
    let mut response = json_response(
        status,
        format!(r#"{{"Type":"User","message":{}}}"#, json_string(message)),
    );
    response
        .headers_mut()
        .insert(ERROR_TYPE, HeaderValue::from_static(error_type));
    with_request_id(response, &report::uuid_v4())
}

fn invalid_content(message: &str) -> Response<Body> {
    service_error(StatusCode::BAD_REQUEST, "InvalidRequestContentException", message)
}

/// `X-Amz-Client-Context` checked as the service checks it (at most [`MAX_CLIENT_CONTEXT`]
/// base64 characters, base64, a JSON object) and decoded for `Lambda-Runtime-Client-Context`;
/// `Err` is the message of the 400 answer, naming the rule that failed.
fn client_context(encoded: &HeaderValue) -> Result<HeaderValue, String> {
    const RULE: &str = "Client context must be a valid Base64-encoded JSON object.";
    let encoded = encoded.as_bytes();
    if encoded.len() > MAX_CLIENT_CONTEXT {
        return Err(format!(
            "Client context must be at most {MAX_CLIENT_CONTEXT} bytes of Base64-encoded data; got {} bytes.",
            encoded.len()
        ));
    }
    let decoded = crate::b64::decode_standard(encoded).ok_or_else(|| RULE.to_owned())?;
    match json_check::check(&decoded) {
        Ok(Kind::Object) => {}
        Ok(kind) => {
            return Err(format!(
                "{RULE} The decoded client context is {}, not an object.",
                kind.article_name()
            ))
        }
        Err(e) => return Err(format!("{RULE} The decoded client context is not JSON: {e}.")),
    }
    // A JSON object without raw control characters is a valid header value.
    HeaderValue::from_bytes(&decoded).map_err(|_| RULE.to_owned())
}

fn parse_path(path: &str) -> Option<&str> {
    let name = path
        .strip_prefix("/2015-03-31/functions/")?
        .strip_suffix("/invocations")?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// The invoker's answer for a finished invocation.
fn outcome_response(emu: &Emulator, request_id: &str, outcome: &Outcome) -> Response<Body> {
    let (mut response, function_error) = match outcome {
        Outcome::Response { body, content_type } => {
            let mut response = Response::new(Full::new(body.clone()));
            response.headers_mut().insert(
                CONTENT_TYPE,
                content_type
                    .clone()
                    .unwrap_or(HeaderValue::from_static("application/json")),
            );
            (response, false)
        }
        Outcome::FunctionError { body } | Outcome::InitError { body } => {
            (json_response(StatusCode::OK, body.clone()), true)
        }
        Outcome::ResponseTooLarge => (
            json_response(
                StatusCode::OK,
                format!(
                    r#"{{"errorMessage":"Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).","errorType":"Function.ResponseSizeTooLarge"}}"#
                ),
            ),
            true,
        ),
        Outcome::Timeout => (
            json_response(
                StatusCode::OK,
                format!(
                    r#"{{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: {request_id} Error: Task timed out after {} seconds"}}"#,
                    emu.cfg.timeout_text()
                ),
            ),
            true,
        ),
        Outcome::Exited { .. } | Outcome::Failure { .. } => (
            json_response(
                StatusCode::OK,
                format!(
                    r#"{{"errorType":{},"errorMessage":{}}}"#,
                    json_string(outcome.error_type().unwrap_or_default()),
                    json_string(&format!("RequestId: {request_id} Error: {}", error_detail(outcome)))
                ),
            ),
            true,
        ),
    };
    let headers = response.headers_mut();
    if function_error {
        headers.insert(FUNCTION_ERROR, HeaderValue::from_static("Unhandled"));
    }
    if let Ok(v) = HeaderValue::from_str(&emu.cfg.function_version) {
        headers.insert(EXECUTED_VERSION, v);
    }
    with_request_id(response, request_id)
}

/// Routes one request to the invoke endpoint.
#[allow(clippy::too_many_lines)] // the Invoke API checks, in the order the service applies them
pub(crate) async fn handle(pool: &Arc<Pool>, request: Request<Incoming>) -> Response<Body> {
    if parse_path(request.uri().path()).is_none() {
        let mut response = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    }
    if request.method() != Method::POST {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return response;
    }
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let invocation_type = headers
        .get("x-amz-invocation-type")
        .map_or(&b"RequestResponse"[..], HeaderValue::as_bytes);
    let invocation_type = match invocation_type {
        b"RequestResponse" | b"Event" | b"DryRun" => invocation_type,
        other => {
            let text = String::from_utf8_lossy(other);
            return service_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                &format!(
                    "1 validation error detected: Value '{text}' at 'invocationType' failed to satisfy constraint: \
                     Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
                ),
            );
        }
    };
    // `Tail` returns the invocation's log in `X-Amz-Log-Result` (synchronous invocations only, as the
    // service: an `Event` ignores it).
    let tail = match headers.get("x-amz-log-type").map(HeaderValue::as_bytes) {
        None | Some(b"None") => false,
        Some(b"Tail") => invocation_type == b"RequestResponse",
        Some(other) => {
            return service_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                &format!(
                    "1 validation error detected: Value '{}' at 'logType' failed to satisfy constraint: \
                     Member must satisfy enum value set: [Tail, None]",
                    String::from_utf8_lossy(other)
                ),
            );
        }
    };
    let client_context = match headers.get("x-amz-client-context").map(client_context) {
        None => None,
        Some(Ok(decoded)) => Some(decoded),
        Some(Err(message)) => return invalid_content(&message),
    };
    let trace_id = headers
        .get("x-amzn-trace-id")
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_str(&report::new_trace_id()).unwrap_or(HeaderValue::from_static("")));
    let tenant_id = headers.get("x-amz-tenant-id").cloned();
    let cognito_identity = headers.get("x-amz-cognito-identity").cloned();

    let Ok(read) = read_body(body, MAX_REQUEST_PAYLOAD).await else {
        return invalid_content("Could not read the request body");
    };
    if read.too_large {
        return service_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            &format!("Request must be smaller than {MAX_REQUEST_PAYLOAD} bytes for the InvokeFunction operation"),
        );
    }
    if invocation_type == b"Event" && read.total > MAX_EVENT_PAYLOAD {
        return service_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            &format!(
                "{} byte payload is too large for the Event invocation type (limit {MAX_EVENT_PAYLOAD} bytes)",
                read.total
            ),
        );
    }
    // An empty body is passed on as it is (docs/RIE.md); anything else must be JSON.
    if !read.bytes.is_empty() {
        if let Err(e) = json_check::check(&read.bytes) {
            return invalid_content(&format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            ));
        }
    }
    if invocation_type == b"DryRun" {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        return with_request_id(response, &report::uuid_v4());
    }
    let request_id = report::uuid_v4();
    let invoke = InvokeRequest {
        request_id: request_id.clone(),
        body: read.bytes,
        trace_id,
        client_context,
        cognito_identity,
        tenant_id,
        tail,
        stream: None,
    };
    if invocation_type == b"Event" {
        let pool = pool.clone();
        let id = request_id.clone();
        tokio::spawn(async move {
            let lease = pool.acquire().await;
            let emu = lease.env();
            let finished = emu.invoke(invoke).await;
            emu.finish(id, finished).await;
            drop(lease);
        });
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::ACCEPTED;
        return with_request_id(response, &request_id);
    }
    let lease = pool.acquire().await;
    let emu = lease.env();
    let finished = emu.invoke(invoke).await;
    let mut response = outcome_response(&emu, &request_id, &finished.completion.outcome);
    if tail {
        // The log ends with REPORT, so it is printed before the answer (otherwise after it).
        let log = emu.close_log(&request_id, &finished).unwrap_or_default();
        if let Ok(v) = HeaderValue::from_str(&crate::b64::encode_standard(&log)) {
            response.headers_mut().insert(LOG_RESULT, v);
        }
        tokio::spawn(async move {
            emu.release(finished).await;
            drop(lease);
        });
    } else {
        tokio::spawn(async move {
            emu.finish(request_id, finished).await;
            drop(lease);
        });
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("/2015-03-31/functions/function/invocations"),
            Some("function")
        );
        assert_eq!(parse_path("/2015-03-31/functions/my-fn/invocations"), Some("my-fn"));
        assert_eq!(parse_path("/2015-03-31/functions//invocations"), None);
    }
}
