//! The invoke side: `POST /2015-03-31/functions/{name}/invocations`, answering like the Lambda
//! Invoke API (status codes, `X-Amz-Function-Error`, error documents).

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::report;
use super::runtime_api_server::json_response;
use super::sandbox::{error_detail, Body, Emulator, InvokeRequest, Outcome};
use super::{json_string, read_body, MAX_EVENT_PAYLOAD, MAX_PAYLOAD, MAX_REQUEST_PAYLOAD};

const FUNCTION_ERROR: HeaderName = HeaderName::from_static("x-amz-function-error");
const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
pub(crate) const EXECUTED_VERSION: HeaderName = HeaderName::from_static("x-amz-executed-version");

pub(crate) fn service_error(status: StatusCode, error_type: &'static str, message: &str) -> Response<Body> {
    let mut response = json_response(
        status,
        format!(r#"{{"Type":"User","message":{}}}"#, json_string(message)),
    );
    response
        .headers_mut()
        .insert(ERROR_TYPE, HeaderValue::from_static(error_type));
    response
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
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&emu.cfg.function_version) {
        headers.insert(EXECUTED_VERSION, v);
    }
    response
}

/// Routes one request to the invoke endpoint.
#[allow(clippy::too_many_lines)] // the Invoke API checks, in the order the service applies them
pub(crate) async fn handle(emu: &Arc<Emulator>, request: Request<Incoming>) -> Response<Body> {
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
    let client_context = match headers.get("x-amz-client-context") {
        None => None,
        Some(v) => match crate::b64::decode_standard(v.as_bytes()).and_then(|d| HeaderValue::from_bytes(&d).ok()) {
            Some(decoded) => Some(decoded),
            None => {
                return service_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    "Client context must be a valid Base64-encoded JSON object.",
                )
            }
        },
    };
    let trace_id = headers
        .get("x-amzn-trace-id")
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_str(&report::new_trace_id()).unwrap_or(HeaderValue::from_static("")));
    let tenant_id = headers.get("x-amz-tenant-id").cloned();
    let cognito_identity = headers.get("x-amz-cognito-identity").cloned();

    let Ok(read) = read_body(body, MAX_REQUEST_PAYLOAD).await else {
        return service_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not read the request body",
        );
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
    if invocation_type == b"DryRun" {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        return response;
    }
    let request_id = report::uuid_v4();
    let invoke = InvokeRequest {
        request_id: request_id.clone(),
        body: read.bytes,
        trace_id,
        client_context,
        cognito_identity,
        tenant_id,
        stream: None,
    };
    if invocation_type == b"Event" {
        let emu = emu.clone();
        let id = request_id.clone();
        tokio::spawn(async move {
            let finished = emu.invoke(invoke).await;
            emu.finish(id, finished).await;
        });
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::ACCEPTED;
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID, v);
        }
        return response;
    }
    let finished = emu.invoke(invoke).await;
    let response = outcome_response(emu, &request_id, &finished.completion.outcome);
    tokio::spawn(emu.clone().finish(request_id, finished));
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
