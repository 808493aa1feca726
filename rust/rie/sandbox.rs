//! The emulated execution environment: one runtime process, the Runtime API state machine
//! (names from aws-lambda-rie's `core/states.go`), and the hand-over of invocations between the
//! invoke endpoint and the runtime's `/next`.
//!
//! Invocations run one at a time: a fair (FIFO) async mutex queues them. Everything else is a
//! short critical section on a `std::sync::Mutex`, never held across an `await`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::Response;
use nix::sys::signal::Signal;
use tokio::sync::{oneshot, watch, OwnedMutexGuard};

use super::cli::{Config, LogLevel};
use super::output::{OutputPipe, Stream, TailLog};
use super::process;
use super::report::{self, diag, ReportFigures, ReportStatus};

/// How often the runtime's process tree is sampled for `Max Memory Used` while it runs: reading
/// `VmHWM` of the tree costs tens of µs, too much to pay on every invoke of a burst, so a timer task
/// per runtime reads it (and once at the end of its init, and before a kill).
const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// Peak memory of one runtime's process tree seen so far, kB (0 before the first sample).
type PeakMemory = Arc<AtomicU64>;

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
    /// The peak memory of the runtime that ran (or failed to start) the invocation.
    pub(crate) memory: Option<PeakMemory>,
}

/// One invocation as accepted by the invoke endpoint.
pub(crate) struct InvokeRequest {
    pub(crate) request_id: String,
    pub(crate) body: Bytes,
    pub(crate) trace_id: HeaderValue,
    pub(crate) client_context: Option<HeaderValue>,
    pub(crate) cognito_identity: Option<HeaderValue>,
    pub(crate) tenant_id: Option<HeaderValue>,
    /// `X-Amz-Log-Type: Tail`: keep the invocation's log for `X-Amz-Log-Result`.
    pub(crate) tail: bool,
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
    tail: bool,
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
    peak_kb: PeakMemory,
    /// The read ends of the runtime's stdout and stderr.
    output: Vec<Arc<OutputPipe>>,
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
    memory: Option<PeakMemory>,
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
    /// The log of the running invocation when it asked for `X-Amz-Log-Type: Tail`.
    tail_log: Option<TailLog>,
}

impl Sandbox {
    fn memory(&self) -> Option<PeakMemory> {
        self.runtime.as_ref().map(|r| r.peak_kb.clone())
    }

    /// Forwards (and captures for `Tail`) whatever the runtime's pipes hold now.
    fn drain_output(&mut self) {
        let Some(runtime) = &self.runtime else { return };
        let pipes = runtime.output.clone();
        for pipe in pipes {
            pipe.drain(&mut |bytes| {
                if let Some(log) = &mut self.tail_log {
                    log.push(bytes);
                }
            });
        }
    }

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
    /// The pids of every environment's live runtime (shared by the environments): never reaped or
    /// killed as an escaped descendant of another environment's runtime.
    runtimes: Arc<Mutex<Vec<u32>>>,
    arn: HeaderValue,
    queue: Arc<tokio::sync::Mutex<()>>,
    state: Mutex<Sandbox>,
}

impl Emulator {
    /// A sandbox with no runtime yet.
    pub(crate) fn new(cfg: Config, runtime_api: SocketAddr, runtimes: Arc<Mutex<Vec<u32>>>) -> Arc<Self> {
        let arn = HeaderValue::from_str(&cfg.function_arn()).unwrap_or(HeaderValue::from_static("arn"));
        Arc::new(Self {
            cfg,
            runtime_api,
            runtimes,
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
                tail_log: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Sandbox> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn live_runtimes(&self) -> MutexGuard<'_, Vec<u32>> {
        self.runtimes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this environment has a runtime process (warm, or starting).
    pub(crate) fn has_runtime(&self) -> bool {
        self.lock().runtime.is_some()
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
        let mut child = process::spawn(&self.cfg, self.runtime_api)
            .map_err(|e| format!("fork/exec {}: {e}", self.cfg.command[0]))?;
        let pipes = [
            child.stdout.take().map(|p| (p.into_owned_fd(), Stream::Stdout)),
            child.stderr.take().map(|p| (p.into_owned_fd(), Stream::Stderr)),
        ];
        let mut output = Vec::with_capacity(2);
        for (fd, stream) in pipes.into_iter().flatten() {
            match fd.and_then(|fd| OutputPipe::new(fd, stream)) {
                Ok(pipe) => {
                    let pipe = Arc::new(pipe);
                    tokio::spawn(self.clone().pump(pipe.clone()));
                    output.push(pipe);
                }
                Err(e) => diag(LogLevel::Warn, &format!("cannot read the runtime's {stream:?}: {e}")),
            }
        }
        let Some(pid) = child.id() else {
            return Err(format!("fork/exec {}: no process id", self.cfg.command[0]));
        };
        self.live_runtimes().push(pid);
        st.generation += 1;
        let (tx, rx) = watch::channel(false);
        let handle = ProcRef {
            generation: st.generation,
            pid,
            exited: rx.clone(),
        };
        let peak_kb = PeakMemory::default();
        tokio::spawn(sample_memory(pid, peak_kb.clone(), rx.clone()));
        st.runtime = Some(RuntimeProc {
            handle,
            spawned_at: Instant::now(),
            peak_kb,
            output,
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

    /// Forwards one of the runtime's pipes whenever it is readable, until every writer closed it.
    async fn pump(self: Arc<Self>, pipe: Arc<OutputPipe>) {
        while pipe.readable().await {
            let mut st = self.lock();
            let open = pipe.drain(&mut |bytes| {
                if let Some(log) = &mut st.tail_log {
                    log.push(bytes);
                }
            });
            if !open {
                return;
            }
        }
    }

    async fn watch_exit(
        self: Arc<Self>,
        generation: u64,
        pid: u32,
        mut child: tokio::process::Child,
        tx: watch::Sender<bool>,
    ) {
        let status = child.wait().await;
        self.live_runtimes().retain(|p| *p != pid);
        // Children left in the group die with the runtime: no orphans.
        process::signal_group(pid as i32, Signal::SIGKILL);
        self.kill_escaped_descendants().await;
        let description = match status {
            Ok(s) if s.success() => None,
            Ok(s) => Some(process::describe_exit(s)),
            Err(e) => Some(format!("wait failed: {e}")),
        };
        {
            let mut st = self.lock();
            if st.runtime.as_ref().is_some_and(|r| r.handle.generation == generation) {
                // What it wrote last (a traceback) comes before the invocation's END/REPORT.
                st.drain_output();
                diag(
                    LogLevel::Info,
                    &format!(
                        "runtime (pid {pid}) exited: {}",
                        description.as_deref().unwrap_or("exit status 0")
                    ),
                );
                let spawned_at = st.runtime.as_ref().map(|r| r.spawned_at);
                let memory = st.memory();
                // A runtime that finished its init and then exited (after answering, say) never saw the
                // invocation waiting for it: that one is not charged for the dead process but handed to a
                // fresh one, as the service does. A crash during init fails the waiting invocation.
                let initialized = !matches!(st.phase, Phase::Started | Phase::InitError);
                let target = if let Some(a) = st.active.take() {
                    Some((a.tx, Some(a.delivered_at), a.init_duration, a.memory))
                } else if st.pending.is_some() && initialized && st.init_error.is_none() {
                    None
                } else if let Some(p) = st.pending.take() {
                    let init = st.init_duration.take().or_else(|| spawned_at.map(|s| s.elapsed()));
                    Some((p.tx, None, init, memory))
                } else {
                    None
                };
                if let Some((tx, delivered_at, init_duration, memory)) = target {
                    let outcome = match st.init_error.take() {
                        Some(body) => Outcome::InitError { body },
                        None => Outcome::Exited { description },
                    };
                    let _ = tx.send(Completion {
                        outcome,
                        delivered_at,
                        init_duration,
                        memory,
                    });
                }
                st.reset_after_stop();
                if st.pending.is_some() {
                    diag(
                        LogLevel::Info,
                        "starting a fresh runtime for the invocation that was waiting",
                    );
                    if let Err(message) = self.spawn_locked(&mut st) {
                        diag(LogLevel::Error, &message);
                        if let Some(p) = st.pending.take() {
                            let _ = p.tx.send(entrypoint_failure(message));
                        }
                    }
                }
            }
        }
        let _ = tx.send(true);
    }

    /// Kills the runtime's descendants that left its process group (`setsid`, double fork) and were
    /// reparented to the emulator (a child subreaper), in rounds until none is left (a killed one's
    /// own children are reparented in turn). The scan runs under the lock of the live runtimes'
    /// pids, so a runtime spawned meanwhile (here or in another environment) is recognised and kept.
    async fn kill_escaped_descendants(&self) {
        let marker = format!("AWS_LAMBDA_RUNTIME_API={}", self.runtime_api);
        for _ in 0..8 {
            let found = {
                let keep = self.live_runtimes();
                process::kill_escaped(marker.as_bytes(), &keep)
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
        let tail = request.tail;
        let (tx, mut rx) = oneshot::channel();
        {
            let mut st = self.lock();
            if let Some(body) = st.init_error.take() {
                let stop = st.runtime.as_ref().map(|r| (r.handle.clone(), GRACE));
                let completion = Completion {
                    outcome: Outcome::InitError { body },
                    delivered_at: None,
                    init_duration: st.init_duration.take(),
                    memory: st.memory(),
                };
                return Finished {
                    completion,
                    started,
                    ended: Instant::now(),
                    stop,
                    tail,
                    _queue: queue,
                };
            }
            if st.runtime.is_none() {
                if let Err(message) = self.spawn_locked(&mut st) {
                    diag(LogLevel::Error, &message);
                    let completion = entrypoint_failure(message);
                    return Finished {
                        completion,
                        started,
                        ended: Instant::now(),
                        stop: None,
                        tail,
                        _queue: queue,
                    };
                }
            }
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
                _ => {
                    if report::enabled(LogLevel::Debug) {
                        diag(
                            LogLevel::Debug,
                            &format!("invocation {request_id} waits for the runtime's /next"),
                        );
                    }
                    st.pending = Some(pending);
                }
            }
        }
        let mut wake = Instant::now() + self.cfg.timeout;
        loop {
            tokio::select! {
                biased;
                result = &mut rx => {
                    return self.finished(result.unwrap_or_else(|_| lost()), started, tail, queue);
                }
                () = tokio::time::sleep_until(wake.into()) => match self.check_timeout(&request_id) {
                    TimerCheck::Later(at) => wake = at,
                    TimerCheck::Fired(completion, killed) => {
                        return Finished {
                            completion,
                            started,
                            ended: Instant::now(),
                            stop: killed.map(|p| (p, Duration::ZERO)),
                            tail,
                            _queue: queue,
                        };
                    }
                    TimerCheck::Done => wake = Instant::now() + Duration::from_secs(3600),
                },
            }
        }
    }

    fn finished(&self, completion: Completion, started: Instant, tail: bool, queue: OwnedMutexGuard<()>) -> Finished {
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
            tail,
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
                memory: active.memory,
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
                memory: st.memory(),
            };
            return TimerCheck::Fired(completion, Self::kill_locked(&mut st));
        }
        TimerCheck::Done
    }

    fn kill_locked(st: &mut Sandbox) -> Option<ProcRef> {
        let runtime = st.runtime.take()?;
        sample_now(runtime.handle.pid, &runtime.peak_kb);
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

    /// Prints the invocation's closing log lines ([`Self::close_log`]), stops a failed runtime,
    /// then lets the next invocation run.
    pub(crate) async fn finish(self: Arc<Self>, request_id: String, finished: Finished) {
        self.close_log(&request_id, &finished);
        self.release(finished).await;
    }

    /// Stops a failed runtime, then lets the next invocation run (drops the queue place).
    pub(crate) async fn release(self: Arc<Self>, finished: Finished) {
        if let Some((handle, grace)) = finished.stop.clone() {
            self.ensure_stopped(handle, grace).await;
        }
        drop(finished);
    }

    /// Prints the invocation's closing log lines (`END`, `REPORT`, and the service's timeout/exit
    /// lines) after what the runtime wrote so far. Returns the last [`super::output::TAIL_BYTES`] of
    /// the invocation's log (`START` … `REPORT`) when it asked for `X-Amz-Log-Type: Tail`.
    pub(crate) fn close_log(&self, request_id: &str, finished: &Finished) -> Option<Vec<u8>> {
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
        let memory_kb = c.memory.as_ref().map_or(0, |m| m.load(Ordering::Relaxed));
        let status = match &c.outcome {
            Outcome::Response { .. } => ReportStatus::Success,
            Outcome::Timeout => ReportStatus::Timeout,
            other => ReportStatus::Error(other.error_type().unwrap_or_default()),
        };
        text.push_str(&report::end_and_report_lines(&ReportFigures {
            request_id,
            duration,
            init_duration: c.init_duration,
            memory_size_mb: self.cfg.memory_mb,
            max_memory_used_mb: memory_kb.div_ceil(1024),
            status,
        }));
        let mut st = self.lock();
        st.drain_output();
        report::stdout_lines(&text);
        let log = st.tail_log.take();
        drop(st);
        finished.tail.then(|| {
            let mut log = log.unwrap_or_default();
            log.push(text.as_bytes());
            log.tail().to_vec()
        })
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
        // The init's (or the previous invocation's) last output comes before START.
        st.drain_output();
        let start = report::start_line(&request.request_id, &self.cfg.function_version);
        st.tail_log = request.tail.then(|| {
            let mut log = TailLog::default();
            log.push(start.as_bytes());
            log
        });
        st.phase = Phase::Running;
        st.active = Some(Active {
            request_id: request.request_id,
            invocation_id,
            delivered_at: Instant::now(),
            init_duration: st.init_duration.take(),
            memory: st.memory(),
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
                    // The init's own memory, before the first invocation can end (or crash).
                    if let Some(r) = &st.runtime {
                        sample_now(r.handle.pid, &r.peak_kb);
                    }
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
            memory: active.memory,
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
                memory: st.memory(),
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
            // `exited` is raised once escaped descendants are killed and reaped too (up to 1 s per
            // round): leaving earlier would orphan them on a loaded machine.
            let _ = tokio::time::timeout(Duration::from_secs(5), exited.wait_for(|e| *e)).await;
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
        memory: None,
    }
}

/// The runtime could not be started (`fork/exec` failed): `Runtime.InvalidEntrypoint`.
fn entrypoint_failure(message: String) -> Completion {
    Completion {
        outcome: Outcome::Failure {
            error_type: "Runtime.InvalidEntrypoint",
            message,
        },
        delivered_at: None,
        init_duration: None,
        memory: None,
    }
}

/// Reads the peak memory of `pid`'s process tree into `peak` (kept when higher).
fn sample_now(pid: u32, peak: &AtomicU64) {
    if let Some(kb) = process::max_memory_kb(pid) {
        peak.fetch_max(kb, Ordering::Relaxed);
    }
}

/// Samples the runtime's tree every [`MEMORY_SAMPLE_INTERVAL`] until it exits.
async fn sample_memory(pid: u32, peak: PeakMemory, mut exited: watch::Receiver<bool>) {
    loop {
        sample_now(pid, &peak);
        tokio::select! {
            _ = exited.wait_for(|e| *e) => return,
            () = tokio::time::sleep(MEMORY_SAMPLE_INTERVAL) => {}
        }
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
