//! Header names used on the Lambda Runtime API, spelled as in the 2018-06-01 spec and
//! `awslambdaric-behaviour.md` sections 2.2–2.3. Matching on received headers is case-insensitive.

/// `/next`: the invocation's request id (required).
pub(crate) const LAMBDA_RUNTIME_AWS_REQUEST_ID: &str = "Lambda-Runtime-Aws-Request-Id";
/// `/next`: the deadline, Unix epoch milliseconds.
pub(crate) const LAMBDA_RUNTIME_DEADLINE_MS: &str = "Lambda-Runtime-Deadline-Ms";
/// `/next`: the ARN the caller invoked.
pub(crate) const LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN: &str = "Lambda-Runtime-Invoked-Function-Arn";
/// `/next`: the X-Ray trace header value, copied into `_X_AMZN_TRACE_ID`.
pub(crate) const LAMBDA_RUNTIME_TRACE_ID: &str = "Lambda-Runtime-Trace-Id";
/// `/next`: the mobile SDK client context (JSON, or base64 JSON from some emulators).
pub(crate) const LAMBDA_RUNTIME_CLIENT_CONTEXT: &str = "Lambda-Runtime-Client-Context";
/// `/next`: the Cognito identity (JSON).
pub(crate) const LAMBDA_RUNTIME_COGNITO_IDENTITY: &str = "Lambda-Runtime-Cognito-Identity";
/// `/next`: the tenant id (tenant isolation mode).
pub(crate) const LAMBDA_RUNTIME_AWS_TENANT_ID: &str = "Lambda-Runtime-Aws-Tenant-Id";
/// `/next` (received) and `/response`, `/error` (echoed): the invocation id against cross-wiring.
pub(crate) const LAMBDA_RUNTIME_INVOCATION_ID: &str = "Lambda-Runtime-Invocation-Id";
/// `/init/error`, `/restore/error`: the error type, e.g. `Runtime.ImportModuleError`.
pub(crate) const LAMBDA_RUNTIME_FUNCTION_ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";
/// `/error`: the X-Ray error cause JSON (omitted when empty or at least 1 MiB).
pub(crate) const LAMBDA_RUNTIME_FUNCTION_XRAY_ERROR_CAUSE: &str = "Lambda-Runtime-Function-XRay-Error-Cause";
/// Streamed `/response`: `streaming` marks a response streamed in HTTP/1.1 chunks.
pub(crate) const LAMBDA_RUNTIME_FUNCTION_RESPONSE_MODE: &str = "Lambda-Runtime-Function-Response-Mode";
/// Streamed `/response` trailer: the error type of a mid-stream error.
pub(crate) const LAMBDA_RUNTIME_FUNCTION_ERROR_BODY: &str = "Lambda-Runtime-Function-Error-Body";
/// Standard HTTP header declaring the trailers a chunked body will end with.
pub(crate) const TRAILER: &str = "Trailer";
/// Standard HTTP headers.
pub(crate) const CONTENT_TYPE: &str = "Content-Type";
/// Standard HTTP header: body length in bytes, sent on every POST.
pub(crate) const CONTENT_LENGTH: &str = "Content-Length";
/// Standard HTTP header.
pub(crate) const TRANSFER_ENCODING: &str = "Transfer-Encoding";
/// Standard HTTP header.
pub(crate) const CONNECTION: &str = "Connection";
/// Standard HTTP header.
pub(crate) const HOST: &str = "Host";
/// Standard HTTP header.
pub(crate) const USER_AGENT: &str = "User-Agent";
