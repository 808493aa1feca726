//! A test-only Lambda function on the Rust `lambda_runtime` crate (1.5.0): a runtime client that
//! fastric did not write, run under `fastric-rie` by `tests/test_rie_rust_runtime.py`.
//!
//! Behaviour per invocation, picked by the event's `"action"` (a JSON string; anything else echoes):
//!
//! | action | result |
//! |---|---|
//! | (none) | `{"deadlineMs":<u64 epoch ms>,"event":<event>,"invokedFunctionArn":…,"pid":<u32>,"requestId":…,"xrayTraceId":…}` (keys sorted: `serde_json` without `preserve_order`) |
//! | `"error"` | `Err` with the custom diagnostic `{"errorType":"RustFunctionError","errorMessage":"failed on purpose in <request id>"}` |
//! | `"boxed_error"` | `Err` of a plain `lambda_runtime::Error` (`Box<dyn Error>`): `lambda_runtime`'s default diagnostic, `errorType` = the Rust type name |
//! | `"panic"` | panics; `lambda_runtime` catches it and posts `Lambda panicked: panicked on purpose` |
//! | `"sleep"` | sleeps `"seconds"` (u64, default 30), then answers `{"slept":<seconds>}` |
//! | `"exit"` | exits the process with `"code"` (default 3) without answering |
//!
//! Init, picked by the environment (read once at start):
//!
//! - `RUST_FN_MARK=<path>`: append `init\n` to that file first (the tests count inits);
//! - `FAIL_INIT=1`: `main` returns `Err("init failed on purpose")` before `lambda_runtime` runs, so the
//!   process prints `Error: "init failed on purpose"` on stderr and exits 1 (`lambda_runtime` posts
//!   nothing: it has no hook for errors before `run`);
//! - `FAIL_INIT=panic`: `main` panics before `lambda_runtime` runs (exit status 101);
//! - `FAIL_INIT=snapshot`: registers a `SnapStart` resource whose `before_snapshot` fails. With
//!   `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` this is the one path on which `lambda_runtime` posts
//!   `/runtime/init/error` (header `Lambda-Runtime-Function-Error-Type: Runtime.InitError`); then `run`
//!   returns the error and the process exits 1.
//! - `FAIL_INIT_STOP_FILE=<path>`: `FAIL_INIT` is ignored once that file exists (the tests create it to
//!   check that the next invoke re-inits and succeeds).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{service_fn, BoxFuture, Diagnostic, Error, LambdaEvent, Runtime, SnapStartResource};
use serde_json::{json, Value};

/// The function: see the module docs for the actions. Errors are returned as [`Diagnostic`]s, which
/// `lambda_runtime` serializes as `{"errorType":…,"errorMessage":…}` into `/invocation/{id}/error`.
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let LambdaEvent { payload, context } = event;
    let action = payload.get("action").and_then(Value::as_str).unwrap_or("echo");
    match action {
        "error" => Err(Diagnostic {
            error_type: "RustFunctionError".to_owned(),
            error_message: format!("failed on purpose in {}", context.request_id),
        }),
        "boxed_error" => Err(Diagnostic::from(Error::from("boxed failure"))),
        "panic" => panic!("panicked on purpose"),
        "sleep" => {
            let seconds = payload.get("seconds").and_then(Value::as_u64).unwrap_or(30);
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            Ok(json!({ "slept": seconds }))
        }
        "exit" => {
            let code = payload.get("code").and_then(Value::as_i64).unwrap_or(3);
            std::process::exit(i32::try_from(code).unwrap_or(3));
        }
        _ => Ok(json!({
            "event": payload,
            "requestId": context.request_id,
            "deadlineMs": context.deadline,
            "invokedFunctionArn": context.invoked_function_arn,
            "xrayTraceId": context.xray_trace_id,
            "pid": std::process::id(),
        })),
    }
}

/// A `SnapStart` resource whose `before_snapshot` hook fails (`FAIL_INIT=snapshot`).
struct FailingSnapshot;

impl SnapStartResource for FailingSnapshot {
    fn before_snapshot(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async { Err(Error::from("before_snapshot failed on purpose")) })
    }
}

/// Appends `init\n` to `$RUST_FN_MARK` when set (best effort: the tests read the file).
fn mark_init() {
    if let Some(path) = std::env::var_os("RUST_FN_MARK") {
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = file.write_all(b"init\n");
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    mark_init();
    let stopped = std::env::var_os("FAIL_INIT_STOP_FILE").is_some_and(|p| std::path::Path::new(&p).exists());
    let fail_init = if stopped {
        String::new()
    } else {
        std::env::var("FAIL_INIT").unwrap_or_default()
    };
    match fail_init.as_str() {
        "1" => return Err(Error::from("init failed on purpose")),
        "panic" => panic!("init panicked on purpose"),
        _ => {}
    }
    // What `lambda_runtime::run` does, plus the optional `SnapStart` resource.
    let mut runtime = Runtime::new(service_fn(handler)).layer(TracingLayer::new());
    if fail_init == "snapshot" {
        runtime = runtime.register_snapstart_resource(Arc::new(FailingSnapshot));
    }
    runtime.run().await
}
