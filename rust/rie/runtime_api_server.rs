//! The Runtime API side (`/2018-06-01/...`) that the runtime process talks to.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::sandbox::{Body, Emulator, PostBody, RapiError};
use super::{json_string, read_body, MAX_PAYLOAD};

const PREFIX: &str = "/2018-06-01";

/// Builds a JSON answer with `status`.
pub(crate) fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn accepted() -> Response<Body> {
    json_response(StatusCode::ACCEPTED, Bytes::from_static(br#"{"status":"OK"}"#))
}

fn render(error: &RapiError) -> Response<Body> {
    let (status, message, error_type) = match error {
        RapiError::InvalidRequestId => (
            StatusCode::BAD_REQUEST,
            "Invalid request ID".to_owned(),
            "InvalidRequestID",
        ),
        RapiError::Transition { from, to } => (
            StatusCode::FORBIDDEN,
            format!("State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"),
            "InvalidStateTransition",
        ),
        RapiError::Gone => (
            StatusCode::GONE,
            "Invocation timed out; the response is no longer accepted".to_owned(),
            "InvokeTimeout",
        ),
        RapiError::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."),
            "RequestEntityTooLarge",
        ),
        RapiError::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error".to_owned(),
            "InternalServerError",
        ),
    };
    json_response(
        status,
        format!(
            r#"{{"errorMessage":{},"errorType":{}}}"#,
            json_string(&message),
            json_string(error_type)
        ),
    )
}

fn not_found() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn method_not_allowed() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// An error document built from `Lambda-Runtime-Function-Error-Type` when the body is empty.
fn error_document(body: Bytes, request: &hyper::http::request::Parts) -> Bytes {
    if !body.is_empty() {
        return body;
    }
    let error_type = request
        .headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Runtime.Unknown");
    Bytes::from(format!(
        r#"{{"errorMessage":"","errorType":{}}}"#,
        json_string(error_type)
    ))
}

/// Routes one Runtime API request.
pub(crate) async fn handle(emu: &Emulator, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path();
    let Some(route) = path.strip_prefix(PREFIX) else {
        return not_found();
    };
    match route {
        "/runtime/invocation/next" => {
            if request.method() != Method::GET {
                return method_not_allowed();
            }
            match emu.next_invocation().await {
                Ok(response) => response,
                Err(e) => render(&e),
            }
        }
        "/runtime/init/error" => {
            if request.method() != Method::POST {
                return method_not_allowed();
            }
            let (parts, body) = request.into_parts();
            let Ok(read) = read_body(body, MAX_PAYLOAD).await else {
                return render(&RapiError::Internal);
            };
            if read.too_large {
                return render(&RapiError::TooLarge);
            }
            match emu.post_init_error(error_document(read.bytes, &parts)) {
                Ok(()) => accepted(),
                Err(e) => render(&e),
            }
        }
        "/ping" => json_response(StatusCode::OK, Bytes::from_static(b"pong")),
        _ => {
            let Some(rest) = route.strip_prefix("/runtime/invocation/") else {
                return not_found();
            };
            let (request_id, is_error) = if let Some(id) = rest.strip_suffix("/response") {
                (id.to_owned(), false)
            } else if let Some(id) = rest.strip_suffix("/error") {
                (id.to_owned(), true)
            } else {
                return not_found();
            };
            if request_id.is_empty() || request_id.contains('/') {
                return not_found();
            }
            if request.method() != Method::POST {
                return method_not_allowed();
            }
            let (parts, body) = request.into_parts();
            let streamed = parts
                .headers
                .get("lambda-runtime-function-response-mode")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"));
            if let Some(sink) = (streamed && !is_error).then(|| emu.stream_sink(&request_id)).flatten() {
                let invocation_id = parts
                    .headers
                    .get("lambda-runtime-invocation-id")
                    .map(HeaderValue::as_bytes);
                let content_type = parts.headers.get(CONTENT_TYPE).cloned();
                return match super::streaming::forward(emu, &request_id, invocation_id, content_type, body, sink).await
                {
                    Ok(()) => accepted(),
                    Err(e) => render(&e),
                };
            }
            let Ok(read) = read_body(body, MAX_PAYLOAD).await else {
                return render(&RapiError::Internal);
            };
            let post = if read.too_large {
                PostBody::TooLarge
            } else if is_error {
                PostBody::Error {
                    body: error_document(read.bytes, &parts),
                }
            } else {
                PostBody::Response {
                    body: read.bytes,
                    content_type: parts.headers.get(CONTENT_TYPE).cloned(),
                }
            };
            let invocation_id = parts
                .headers
                .get("lambda-runtime-invocation-id")
                .map(HeaderValue::as_bytes);
            match emu.post_result(&request_id, invocation_id, post) {
                Ok(()) => accepted(),
                Err(e) => render(&e),
            }
        }
    }
}
