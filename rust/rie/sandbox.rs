//! The emulated execution environment: one runtime process, the Runtime API state machine
//! (names from aws-lambda-rie's `core/states.go`), and the hand-over of invocations between the
//! invoke endpoint and the runtime's `/next`.
//!
//! Invocations run one at a time: a fair (FIFO) async mutex queues them. Everything else is a
//! short critical section on a `std::sync::Mutex`, never held across an `await`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::Response;
use nix::sys::signal::Signal;
use tokio::sync::{oneshot, watch, OwnedMutexGuard};

use super::cli::{Config, LogLevel};
use super::process;
use super::report::{self, diag, ReportFigures, ReportStatus};

/// How long a `/proc` memory reading is reused for `REPORT` lines of the same runtime: reading
/// `VmHWM` of the process tree costs tens of µs, too much to pay on every invoke of a burst.
const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// Response body type of both servers.
pub(crate) type Body = Full<Bytes>;

/// Grace period between SIGTERM and SIGKILL, and for a runtime to exit after `/init/error`
/// (aws-lambda-rie's `resetDefaultTimeoutMs`).
pub(crate) const GRACE: Duration = Duration::from_secs(2);

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const REQUEST_ID: HeaderName = HeaderName::from_static("lambda-runtime-aws-request-id");
const DEADLINE_MS: HeaderName = HeaderName::from_static("lambda-runtime-deadline-ms");
const INVOKED_FUNCTION_ARN: HeaderName = HeaderName::from_static("lambda-runtime-invoked-function-arn");
const TRACE_ID: HeaderName = HeaderName::from_static("lambda-runtime-trace-id");
const CLIENT_CONTEXT: HeaderName = HeaderName::from_static("lambda-runtime-client-context");
const COGNITO_IDENTITY: HeaderName = HeaderName::from_static("lambda-runtime-cognito-identity");
const TENANT_ID: HeaderName = HeaderName::from_static("lambda-runtime-aws-tenant-id");
const INVOCATION_ID: HeaderName = HeaderName::from_static("lambda-runtime-invocation-id");

/// Runtime states, named as aws-lambda-rie names them in its error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Spawned, no `/next` yet (the init phase).
    Started,
    /// Waiting in `/next`.
    Ready,
    /// An invocation was delivered and is not answered yet.
    Running,
    /// `/response` or `/error` accepted; the next call must be `/next`.
    ResponseSent,
    /// `/init/error` accepted; the runtime is expected to exit.
    InitError,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Started => "Started",
            Phase::Ready => "Ready",
            Phase::Running => "Running",
            Phase::ResponseSent => "RuntimeResponseSentState",
            Phase::InitError => "InitError",
        }
    }
}

/// How an invocation ended, as seen by the invoker.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `/response`: the body and the runtime's content type.
    Response {
        body: Bytes,
        content_type: Option<HeaderValue>,
    },
    /// `/error`: the runtime's error document.
    FunctionError { body: Bytes },
    /// The runtime posted more than [`super::MAX_PAYLOAD`] bytes.
    ResponseTooLarge,
    /// The runtime posted `/init/error` (this document) during this init.
    InitError { body: Bytes },
    /// The runtime exited; `None` for exit status 0.
    Exited { description: Option<String> },
    /// The function timeout elapsed.
    Timeout,
    /// The emulator could not run the invocation (spawn failure, lost hand-over).
    Failure { error_type: &'static str, message: String },
}

impl Outcome {
    /// The error type for the `REPORT` status, `None` on success.
    pub(crate) fn error_type(&self) -> Option<&'static str> {
        match self {
            Outcome::Response { .. } => None,
            Outcome::FunctionError { .. } => Some("Unhandled"),
            Outcome::ResponseTooLarge => Some("Function.ResponseSizeTooLarge"),
            Outcome::InitError { .. } => Some("Runtime.InitError"),
            Outcome::Exited { .. } => Some("Runtime.ExitError"),
            Outcome::Timeout => Some("Sandbox.Timedout"),
            Outcome::Failure { error_type, .. } => Some(error_type),
        }
    }
}

/// An outcome with the timing the `REPORT` line needs.
#[derive(Debug)]
pub(crate) struct Completion {
    pub(crate) outcome: Outcome,
    /// When `/next` received the invocation (start of the invoke phase), if it did.
    pub(crate) delivered_at: Option<Instant>,
    /// Spawn → first `/next` (or → `/init/error`), on the first invocation of an init only.
    pub(crate) init_duration: Option<Duration>,
}

/// One invocation as accepted by the invoke endpoint.
pub(crate) struct InvokeRequest {
    pub(crate) request_id: String,
    pub(crate) body: Bytes,
    pub(crate) trace_id: HeaderValue,
    pub(crate) client_context: Option<HeaderValue>,
    pub(crate) cognito_identity: Option<HeaderValue>,
    pub(crate) tenant_id: Option<HeaderValue>,
    /// Set by the response-streaming invoke (`streaming.rs`): a streamed `/response` is forwarded here.
    pub(crate) stream: Option<super::streaming::StreamSink>,
}

/// A finished invocation still holding its place in the queue until its `END`/`REPORT` lines
/// are printed and a failed runtime is stopped (see [`Emulator::finish`]).
pub(crate) struct Finished {
    pub(crate) completion: Completion,
    started: Instant,
    ended: Instant,
    stop: Option<(ProcRef, Duration)>,
    pid: Option<u32>,
    _queue: OwnedMutexGuard<()>,
}

/// Errors answered to the runtime, rendered by `runtime_api_server`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RapiError {
    /// 400 `InvalidRequestID`.
    InvalidRequestId,
    /// 403 `InvalidStateTransition`, from → to state names.
    Transition { from: &'static str, to: &'static str },
    /// 410 `InvokeTimeout`: a post for an invocation that timed out, or with a stale
    /// `Lambda-Runtime-Invocation-Id`.
    Gone,
    /// 413 `RequestEntityTooLarge`.
    TooLarge,
    /// 500 `InternalServerError`.
    Internal,
}

/// What the runtime posted to `/response` or `/error`.
pub(crate) enum PostBody {
    Response {
        body: Bytes,
        content_type: Option<HeaderValue>,
    },
    Error {
        body: Bytes,
    },
    TooLarge,
}

#[derive(Clone)]
struct ProcRef {
    generation: u64,
    pid: u32,
    exited: watch::Receiver<bool>,
}

struct RuntimeProc {
    handle: ProcRef,
    spawned_at: Instant,
}

struct Pending {
    request: InvokeRequest,
    tx: oneshot::Sender<Completion>,
}

struct Active {
    request_id: String,
    invocation_id: String,
    delivered_at: Instant,
    init_duration: Option<Duration>,
    tx: oneshot::Sender<Completion>,
    stream: Option<super::streaming::StreamSink>,
}

struct Sandbox {
    generation: u64,
    runtime: Option<RuntimeProc>,
    phase: Phase,
    parked_next: Option<oneshot::Sender<Response<Body>>>,
    pending: Option<Pending>,
    active: Option<Active>,
    /// (request id, invocation id) of the last invocation that timed out with the runtime kept.
    timed_out: Option<(String, String)>,
    /// An `/init/error` document posted while no invocation waited (eager init).
    init_error: Option<Bytes>,
    init_duration: Option<Duration>,
}

impl Sandbox {
    fn reset_after_stop(&mut self) {
        self.runtime = None;
        self.phase = Phase::Started;
        self.parked_next = None;
        self.timed_out = None;
        self.init_duration = None;
    }
}

enum TimerCheck {
    Later(Instant),
    Fired(Completion, Option<ProcRef>),
    Done,
}

/// The emulator shared by both HTTP servers.
pub(crate) struct Emulator {
    pub(crate) cfg: Config,
    pub(crate) runtime_api: SocketAddr,
    arn: HeaderValue,
    queue: Arc<tokio::sync::Mutex<()>>,
    state: Mutex<Sandbox>,
    /// (pid, when read, kB) of the last `/proc` reading, reused for [`MEMORY_SAMPLE_INTERVAL`].
    memory: Mutex<(u32, Instant, u64)>,
}

impl Emulator {
    /// A sandbox with no runtime yet.
    pub(crate) fn new(cfg: Config, runtime_api: SocketAddr) -> Arc<Self> {
        let arn = HeaderValue::from_str(&cfg.function_arn()).unwrap_or(HeaderValue::from_static("arn"));
        Arc::new(Self {
            cfg,
            runtime_api,
            arn,
            queue: Arc::new(tokio::sync::Mutex::new(())),
            state: Mutex::new(Sandbox {
                generation: 0,
                runtime: None,
                phase: Phase::Started,
                parked_next: None,
                pending: None,
                active: None,
                timed_out: None,
                init_error: None,
                init_duration: None,
            }),
            memory: Mutex::new((0, Instant::now(), 0)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Sandbox> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the runtime now (`--eager-init`); a failure is logged and retried on the first invoke.
    pub(crate) fn start_runtime(self: &Arc<Self>) {
        let mut st = self.lock();
        if st.runtime.is_none() {
            if let Err(message) = self.spawn_locked(&mut st) {
                diag(LogLevel::Error, &message);
            }
        }
    }

    fn spawn_locked(self: &Arc<Self>, st: &mut Sandbox) -> Result<(), String> {
        let child = process::spawn(&self.cfg, self.runtime_api)
            .map_err(|e| format!("fork/exec {}: {e}", self.cfg.command[0]))?;
        let Some(pid) = child.id() else {
            return Err(format!("fork/exec {}: no process id", self.cfg.command[0]));
        };
        st.generation += 1;
        let (tx, rx) = watch::channel(false);
        let handle = ProcRef {
            generation: st.generation,
            pid,
            exited: rx,
        };
        st.runtime = Some(RuntimeProc {
            handle,
            spawned_at: Instant::now(),
        });
        st.phase = Phase::Started;
        st.timed_out = None;
        st.init_duration = None;
        diag(
            LogLevel::Debug,
            &format!(
                "exec {:?} (pid {pid}, handler {:?})",
                self.cfg.command, self.cfg.handler
            ),
        );
        tokio::spawn(self.clone().watch_exit(st.generation, pid, child, tx));
        Ok(())
    }

    async fn watch_exit(
        self: Arc<Self>,
        generation: u64,
        pid: u32,
        mut child: tokio::process::Child,
        tx: watch::Sender<bool>,
    ) {
        let status = child.wait().await;
        // Children left in the group die with the runtime: no orphans.
        process::signal_group(pid as i32, Signal::SIGKILL);
        self.kill_escaped_descendants(generation).await;
        let description = match status {
            Ok(s) if s.success() => None,
            Ok(s) => Some(process::describe_exit(s)),
            Err(e) => Some(format!("wait failed: {e}")),
        };
        {
            let mut st = self.lock();
            if st.runtime.as_ref().is_some_and(|r| r.handle.generation == generation) {
                diag(
                    LogLevel::Info,
                    &format!(
                        "runtime (pid {pid}) exited: {}",
                        description.as_deref().unwrap_or("exit status 0")
                    ),
                );
                let spawned_at = st.runtime.as_ref().map(|r| r.spawned_at);
                let target = if let Some(a) = st.active.take() {
                    Some((a.tx, Some(a.delivered_at), a.init_duration))
                } else if let Some(p) = st.pending.take() {
                    let init = st.init_duration.take().or_else(|| spawned_at.map(|s| s.elapsed()));
                    Some((p.tx, None, init))
                } else {
                    None
                };
                if let Some((tx, delivered_at, init_duration)) = target {
                    let outcome = match st.init_error.take() {
                        Some(body) => Outcome::InitError { body },
                        None => Outcome::Exited { description },
                    };
                    let _ = tx.send(Completion {
                        outcome,
                        delivered_at,
                        init_duration,
                    });
                }
                st.reset_after_stop();
            }
        }
        let _ = tx.send(true);
    }

    /// Kills the runtime's descendants that left its process group (`setsid`, double fork) and were
    /// reparented to the emulator (a child subreaper), in rounds until none is left (a killed one's
    /// own children are reparented in turn). The scan runs under the state lock, so a runtime
    /// spawned meanwhile is recognised and kept.
    async fn kill_escaped_descendants(&self, generation: u64) {
        let marker = format!("AWS_LAMBDA_RUNTIME_API={}", self.runtime_api);
        for _ in 0..8 {
            let found = {
                let st = self.lock();
                let keep = st
                    .runtime
                    .as_ref()
                    .filter(|r| r.handle.generation != generation)
                    .map(|r| r.handle.pid);
                process::kill_escaped(marker.as_bytes(), keep)
            };
            if found.is_empty() {
                return;
            }
            diag(
                LogLevel::Debug,
                &format!("killed {} process(es) that escaped the runtime's group", found.len()),
            );
            process::reap(found).await;
        }
    }

    /// Runs one invocation: waits for its turn, starts the runtime if needed, hands the event to
    /// `/next` and waits for the result or the function timeout.
    pub(crate) async fn invoke(self: &Arc<Self>, request: InvokeRequest) -> Finished {
        let queue = self.queue.clone().lock_owned().await;
        let started = Instant::now();
        let request_id = request.request_id.clone();
        let (tx, mut rx) = oneshot::channel();
        let mut pid = None;
        {
            let mut st = self.lock();
            if let Some(body) = st.init_error.take() {
                let stop = st.runtime.as_ref().map(|r| (r.handle.clone(), GRACE));
                let completion = Completion {
                    outcome: Outcome::InitError { body },
                    delivered_at: None,
                    init_duration: st.init_duration.take(),
                };
                return Finished {
                    completion,
                    started,
                    ended: Instant::now(),
                    stop,
                    pid,
                    _queue: queue,
                };
            }
            if st.runtime.is_none() {
                if let Err(message) = self.spawn_locked(&mut st) {
                    diag(LogLevel::Error, &message);
                    let completion = Completion {
                        outcome: Outcome::Failure {
                            error_type: "Runtime.InvalidEntrypoint",
                            message,
                        },
                        delivered_at: None,
                        init_duration: None,
                    };
                    return Finished {
                        completion,
                        started,
                        ended: Instant::now(),
                        stop: None,
                        pid,
                        _queue: queue,
                    };
                }
            }
            pid = st.runtime.as_ref().map(|r| r.handle.pid);
            let pending = Pending { request, tx };
            match st.parked_next.take() {
                Some(next) if !next.is_closed() => {
                    let response = self.deliver_locked(&mut st, pending);
                    if next.send(response).is_err() {
                        diag(
                            LogLevel::Warn,
                            "the runtime's /next went away while an invocation was handed over",
                        );
                    }
                }
                _ => st.pending = Some(pending),
            }
        }
        let mut wake = Instant::now() + self.cfg.timeout;
        loop {
            tokio::select! {
                biased;
                result = &mut rx => {
                    return self.finished(result.unwrap_or_else(|_| lost()), started, pid, queue);
                }
                () = tokio::time::sleep_until(wake.into()) => match self.check_timeout(&request_id) {
                    TimerCheck::Later(at) => wake = at,
                    TimerCheck::Fired(completion, killed) => {
                        return Finished {
                            completion,
                            started,
                            ended: Instant::now(),
                            stop: killed.map(|p| (p, Duration::ZERO)),
                            pid,
                            _queue: queue,
                        };
                    }
                    TimerCheck::Done => wake = Instant::now() + Duration::from_secs(3600),
                },
            }
        }
    }

    fn finished(
        &self,
        completion: Completion,
        started: Instant,
        pid: Option<u32>,
        queue: OwnedMutexGuard<()>,
    ) -> Finished {
        let stop = if matches!(completion.outcome, Outcome::InitError { .. }) {
            self.lock().runtime.as_ref().map(|r| (r.handle.clone(), GRACE))
        } else {
            None
        };
        Finished {
            completion,
            started,
            ended: Instant::now(),
            stop,
            pid,
            _queue: queue,
        }
    }

    fn check_timeout(&self, request_id: &str) -> TimerCheck {
        let mut st = self.lock();
        if st.active.as_ref().is_some_and(|a| a.request_id == request_id) {
            let due = st
                .active
                .as_ref()
                .map_or_else(Instant::now, |a| a.delivered_at + self.cfg.timeout);
            if due > Instant::now() {
                return TimerCheck::Later(due);
            }
            let Some(active) = st.active.take() else {
                return TimerCheck::Done;
            };
            let completion = Completion {
                outcome: Outcome::Timeout,
                delivered_at: Some(active.delivered_at),
                init_duration: active.init_duration,
            };
            st.timed_out = Some((active.request_id, active.invocation_id));
            let killed = if self.cfg.keep_runtime_on_timeout {
                None
            } else {
                Self::kill_locked(&mut st)
            };
            return TimerCheck::Fired(completion, killed);
        }
        if st.pending.as_ref().is_some_and(|p| p.request.request_id == request_id) {
            // The init did not finish within the function timeout.
            st.pending = None;
            let init_duration = st.runtime.as_ref().map(|r| r.spawned_at.elapsed());
            let completion = Completion {
                outcome: Outcome::Timeout,
                delivered_at: None,
                init_duration,
            };
            return TimerCheck::Fired(completion, Self::kill_locked(&mut st));
        }
        TimerCheck::Done
    }

    fn kill_locked(st: &mut Sandbox) -> Option<ProcRef> {
        let runtime = st.runtime.take()?;
        process::signal_group(runtime.handle.pid as i32, Signal::SIGKILL);
        st.reset_after_stop();
        Some(runtime.handle)
    }

    /// Waits up to `grace` for the runtime to exit by itself, then kills its group.
    async fn ensure_stopped(&self, handle: ProcRef, grace: Duration) {
        let mut exited = handle.exited.clone();
        if tokio::time::timeout(grace, exited.wait_for(|e| *e)).await.is_err() {
            process::signal_group(handle.pid as i32, Signal::SIGKILL);
            let _ = tokio::time::timeout(Duration::from_secs(1), exited.wait_for(|e| *e)).await;
        }
    }

    /// Prints the invocation's closing log lines (`END`, `REPORT`, and the service's
    /// timeout/exit lines), stops a failed runtime, then lets the next invocation run.
    pub(crate) async fn finish(self: Arc<Self>, request_id: String, finished: Finished) {
        let c = &finished.completion;
        let mut text = String::new();
        if c.delivered_at.is_none() {
            let _ = writeln!(
                text,
                "START RequestId: {request_id} Version: {}",
                self.cfg.function_version
            );
        }
        match &c.outcome {
            Outcome::Timeout => {
                let _ = writeln!(
                    text,
                    "{} {request_id} Task timed out after {} seconds",
                    report::utc_timestamp(),
                    self.cfg.timeout_text()
                );
            }
            Outcome::Exited { .. } | Outcome::Failure { .. } => {
                let _ = writeln!(
                    text,
                    "RequestId: {request_id} Error: {}\n{}",
                    error_detail(&c.outcome),
                    c.outcome.error_type().unwrap_or_default()
                );
            }
            _ => {}
        }
        // Nothing delivered (an init error, or a crash during init): the time since the runtime started
        // minus the Init Duration reported beside it, so the init is not counted (and billed) twice.
        let duration = c.delivered_at.map_or_else(
            || (finished.ended - finished.started).saturating_sub(c.init_duration.unwrap_or(Duration::ZERO)),
            |d| finished.ended.saturating_duration_since(d),
        );
        let memory_kb = self.max_memory_kb(finished.pid);
        let status = match &c.outcome {
            Outcome::Response { .. } => ReportStatus::Success,
            Outcome::Timeout => ReportStatus::Timeout,
            other => ReportStatus::Error(other.error_type().unwrap_or_default()),
        };
        text.push_str(&report::end_and_report_lines(&ReportFigures {
            request_id: &request_id,
            duration,
            init_duration: c.init_duration,
            memory_size_mb: self.cfg.memory_mb,
            max_memory_used_mb: memory_kb.div_ceil(1024),
            status,
        }));
        report::stdout_lines(&text);
        if let Some((handle, grace)) = finished.stop.clone() {
            self.ensure_stopped(handle, grace).await;
        }
        drop(finished);
    }

    /// Peak memory of the runtime's process tree in kB, sampled at most every
    /// [`MEMORY_SAMPLE_INTERVAL`]; the last reading when the runtime is gone.
    fn max_memory_kb(&self, pid: Option<u32>) -> u64 {
        let mut cache = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(pid) = pid else { return cache.2 };
        if cache.0 == pid && cache.1.elapsed() < MEMORY_SAMPLE_INTERVAL {
            return cache.2;
        }
        if let Some(kb) = process::max_memory_kb(pid) {
            *cache = (pid, Instant::now(), kb);
        }
        cache.2
    }

    /// Builds the `/next` answer for `pending` and marks it running. Prints `START`.
    fn deliver_locked(&self, st: &mut Sandbox, pending: Pending) -> Response<Body> {
        let Pending { request, tx } = pending;
        let invocation_id = report::uuid_v4();
        let deadline_ms = report::epoch_ms() + self.cfg.timeout.as_millis() as u64;
        let mut response = Response::new(Full::new(request.body));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, APPLICATION_JSON);
        if let Ok(v) = HeaderValue::from_str(&request.request_id) {
            headers.insert(REQUEST_ID, v);
        }
        headers.insert(DEADLINE_MS, HeaderValue::from(deadline_ms));
        headers.insert(INVOKED_FUNCTION_ARN, self.arn.clone());
        headers.insert(TRACE_ID, request.trace_id);
        if let Some(v) = request.client_context {
            headers.insert(CLIENT_CONTEXT, v);
        }
        if let Some(v) = request.cognito_identity {
            headers.insert(COGNITO_IDENTITY, v);
        }
        if let Some(v) = request.tenant_id {
            headers.insert(TENANT_ID, v);
        }
        if let Ok(v) = HeaderValue::from_str(&invocation_id) {
            headers.insert(INVOCATION_ID, v);
        }
        report::start_line(&request.request_id, &self.cfg.function_version);
        st.phase = Phase::Running;
        st.active = Some(Active {
            request_id: request.request_id,
            invocation_id,
            delivered_at: Instant::now(),
            init_duration: st.init_duration.take(),
            tx,
            stream: request.stream,
        });
        response
    }

    // GET /2018-06-01/runtime/invocation/next
    /// Delivers the next invocation, waiting for one if none is queued.
    pub(crate) async fn next_invocation(&self) -> Result<Response<Body>, RapiError> {
        let rx = {
            let mut st = self.lock();
            match st.phase {
                Phase::Started => {
                    st.init_duration = st.runtime.as_ref().map(|r| r.spawned_at.elapsed());
                    st.phase = Phase::Ready;
                }
                Phase::Ready => {
                    if st.parked_next.as_ref().is_some_and(|t| !t.is_closed()) {
                        return Err(RapiError::Transition {
                            from: "Ready",
                            to: "Ready",
                        });
                    }
                }
                Phase::ResponseSent => st.phase = Phase::Ready,
                Phase::Running if st.active.is_none() => st.phase = Phase::Ready,
                phase @ (Phase::Running | Phase::InitError) => {
                    return Err(RapiError::Transition {
                        from: phase.name(),
                        to: "Ready",
                    })
                }
            }
            if let Some(pending) = st.pending.take() {
                return Ok(self.deliver_locked(&mut st, pending));
            }
            let (tx, rx) = oneshot::channel();
            st.parked_next = Some(tx);
            rx
        };
        rx.await.map_err(|_| RapiError::Internal)
    }

    // POST /2018-06-01/runtime/invocation/{AwsRequestId}/response and …/error
    /// Accepts the runtime's result for `request_id` and answers the waiting invoker.
    pub(crate) fn post_result(
        &self,
        request_id: &str,
        invocation_id: Option<&[u8]>,
        post: PostBody,
    ) -> Result<(), RapiError> {
        let to = if matches!(post, PostBody::Error { .. }) {
            "InvocationErrorResponse"
        } else {
            "InvocationResponse"
        };
        let mut st = self.lock();
        let stale = |st: &Sandbox| st.timed_out.as_ref().is_some_and(|(r, _)| r == request_id);
        match &st.active {
            Some(a) if a.request_id == request_id => {
                if invocation_id.is_some_and(|id| id != a.invocation_id.as_bytes()) {
                    return Err(RapiError::Gone);
                }
            }
            Some(_) if stale(&st) => return Err(RapiError::Gone),
            Some(_) => return Err(RapiError::InvalidRequestId),
            None if stale(&st) => {
                if st.phase == Phase::Running {
                    st.phase = Phase::ResponseSent;
                }
                return Err(RapiError::Gone);
            }
            None => {
                return Err(RapiError::Transition {
                    from: st.phase.name(),
                    to,
                })
            }
        }
        let Some(active) = st.active.take() else {
            return Err(RapiError::Internal);
        };
        st.phase = Phase::ResponseSent;
        let (outcome, result) = match post {
            PostBody::Response { body, content_type } => (Outcome::Response { body, content_type }, Ok(())),
            PostBody::Error { body } => (Outcome::FunctionError { body }, Ok(())),
            PostBody::TooLarge => (Outcome::ResponseTooLarge, Err(RapiError::TooLarge)),
        };
        let _ = active.tx.send(Completion {
            outcome,
            delivered_at: Some(active.delivered_at),
            init_duration: active.init_duration,
        });
        result
    }

    /// Where a streamed `/response` for `request_id` goes: the streaming invoker's sink, when the
    /// invocation running now is `request_id` and was invoked with response streaming.
    pub(crate) fn stream_sink(&self, request_id: &str) -> Option<super::streaming::StreamSink> {
        let st = self.lock();
        st.active
            .as_ref()
            .filter(|a| a.request_id == request_id)
            .and_then(|a| a.stream.clone())
    }

    // POST /2018-06-01/runtime/init/error
    /// Records an init failure; it answers the waiting invocation, or the next one.
    pub(crate) fn post_init_error(&self, body: Bytes) -> Result<(), RapiError> {
        let mut st = self.lock();
        if st.phase != Phase::Started {
            return Err(RapiError::Transition {
                from: st.phase.name(),
                to: "InitError",
            });
        }
        st.phase = Phase::InitError;
        let init_duration = st.runtime.as_ref().map(|r| r.spawned_at.elapsed());
        if let Some(pending) = st.pending.take() {
            let _ = pending.tx.send(Completion {
                outcome: Outcome::InitError { body },
                delivered_at: None,
                init_duration,
            });
        } else {
            st.init_error = Some(body);
            st.init_duration = init_duration;
        }
        Ok(())
    }

    /// SIGTERM to the runtime's group, up to [`GRACE`] to exit, then SIGKILL to the group.
    pub(crate) async fn shutdown(&self) {
        let handle = {
            let mut st = self.lock();
            st.parked_next = None;
            st.runtime.take().map(|r| r.handle)
        };
        if let Some(handle) = handle {
            process::signal_group(handle.pid as i32, Signal::SIGTERM);
            let mut exited = handle.exited.clone();
            let _ = tokio::time::timeout(GRACE, exited.wait_for(|e| *e)).await;
            process::signal_group(handle.pid as i32, Signal::SIGKILL);
            let _ = tokio::time::timeout(Duration::from_secs(1), exited.wait_for(|e| *e)).await;
        }
    }
}

fn lost() -> Completion {
    Completion {
        outcome: Outcome::Failure {
            error_type: "Sandbox.Failure",
            message: "invocation lost by the emulator".to_owned(),
        },
        delivered_at: None,
        init_duration: None,
    }
}

/// The text after `Error: ` in the invoker's error message for exits and failures.
pub(crate) fn error_detail(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Exited { description: Some(d) } => format!("Runtime exited with error: {d}"),
        Outcome::Exited { description: None } => "Runtime exited without providing a reason".to_owned(),
        Outcome::Failure { message, .. } => message.clone(),
        _ => String::new(),
    }
}
