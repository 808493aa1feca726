//! `fastric-rie`: a Lambda Runtime Interface Emulator in the same wheel as the runtime client.
//!
//! Serves the Lambda Invoke API on `--runtime-interface-emulator-address` and the Runtime API
//! on `--runtime-api-address`, and runs the runtime process. Follows aws-lambda-rie v1.30 and
//! the Lambda service where they differ; `docs/RIE.md` lists the differences.
//!
//! The module uses no Python: it is compiled into the extension module (`rie_main`) and, on its
//! own with `../b64.rs`, into the native `fastric-rie` executable (`rust/rie_bin`), which must not
//! link libpython.

mod cli;
mod function_url;
mod invoke_api;
mod json_check;
mod output;
mod pool;
mod process;
mod report;
mod runtime_api_server;
mod sandbox;
mod streaming;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs as _};

use http_body_util::BodyExt as _;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use cli::LogLevel;
use report::diag;
use sandbox::Emulator;

/// Largest runtime response or error the Runtime API accepts, bytes (6 MiB + 100,
/// aws-lambda-rie `interop.MaxPayloadSize`).
pub(crate) const MAX_PAYLOAD: usize = 6 * 1024 * 1024 + 100;
/// Largest synchronous invoke request, bytes (the Invoke API's 6 MB limit).
pub(crate) const MAX_REQUEST_PAYLOAD: usize = 6 * 1024 * 1024;
/// Largest `Event` (asynchronous) invoke payload, bytes (1 MB).
pub(crate) const MAX_EVENT_PAYLOAD: usize = 1024 * 1024;

/// A request body read up to a limit.
pub(crate) struct BodyRead {
    /// The body, empty when `too_large`.
    pub(crate) bytes: Bytes,
    /// Bytes received in all (the rest is drained and dropped past the limit).
    pub(crate) total: usize,
    pub(crate) too_large: bool,
}

/// Reads a whole body, keeping at most `limit` bytes. A single-frame body is not copied.
pub(crate) async fn read_body(mut body: Incoming, limit: usize) -> Result<BodyRead, hyper::Error> {
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        total += data.len();
        if total > limit {
            first = None;
            joined = Vec::new();
            continue;
        }
        match first.take() {
            None if joined.is_empty() => first = Some(data),
            None => joined.extend_from_slice(&data),
            Some(previous) => {
                joined.reserve(previous.len() + data.len());
                joined.extend_from_slice(&previous);
                joined.extend_from_slice(&data);
            }
        }
    }
    let too_large = total > limit;
    let bytes = if too_large {
        Bytes::new()
    } else {
        first.unwrap_or_else(|| Bytes::from(joined))
    };
    Ok(BodyRead {
        bytes,
        total,
        too_large,
    })
}

/// `text` as a JSON string literal (quotes included).
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The Runtime API address of environment `index`: `address` with its port + `index` (port 0 stays
/// 0, a free port each).
fn runtime_api_address(address: &str, index: usize) -> String {
    match address.rsplit_once(':').map(|(host, port)| (host, port.parse::<u16>())) {
        Some((host, Ok(port))) if port != 0 && index > 0 => format!("{host}:{}", port as usize + index),
        _ => address.to_owned(),
    }
}

/// The invoke listener, then one Runtime API listener per execution environment (the given address
/// for the first, the following ports for the others; all free ports when the port is 0), and
/// their addresses.
fn bind_all(cfg: &cli::Config) -> Result<(Vec<StdTcpListener>, Vec<SocketAddr>), String> {
    let mut listeners = vec![bind(&cfg.invoke_address)?];
    for i in 0..cfg.max_environments {
        listeners.push(bind(&runtime_api_address(&cfg.runtime_api_address, i))?);
    }
    let addrs = listeners
        .iter()
        .map(StdTcpListener::local_addr)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read the listening addresses: {e}"))?;
    Ok((listeners, addrs))
}

fn bind(address: &str) -> Result<StdTcpListener, String> {
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| format!("invalid address {address:?}: {e}"))?
        .collect();
    let listener = StdTcpListener::bind(&addrs[..]).map_err(|e| format!("cannot listen on {address}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    Ok(listener)
}

async fn serve<F, Fut, B>(listener: tokio::net::TcpListener, handler: F)
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = hyper::Response<B>> + 'static,
    B: hyper::body::Body<Data = Bytes, Error = Infallible> + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors (EMFILE/ENFILE) or a similar transient failure: retrying at
                // once spins at 100% CPU until a descriptor frees up; back off a little (as Go's
                // net/http, hence aws-lambda-rie, does).
                diag(LogLevel::Debug, &format!("accept failed: {e}; retrying in 20 ms"));
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::task::spawn_local(async move {
            let service = service_fn(move |request| {
                let response = handler(request);
                async move { Ok::<_, Infallible>(response.await) }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Runs `fastric-rie` with `argv` (`argv[0]` is the program name) until SIGTERM/SIGINT and
/// returns its exit code.
///
/// `python` is the interpreter for the `python -m fastric HANDLER` fallback. Signals are handled
/// here: the runtime's process group gets SIGTERM, 2 s, then SIGKILL; exit code 0. Usage errors
/// print to stderr and return 2; `--help` returns 0. Used by the native `fastric-rie` executable
/// (`rust/rie_bin`) and by `fastric._fastric.rie_main`.
#[allow(clippy::too_many_lines)] // the start-up sequence, step by step
pub fn run(argv: &[String], python: &str) -> i32 {
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let is_executable = |path: &str| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let cfg = match cli::parse(argv, &env, python, &is_executable) {
        Ok(cfg) => cfg,
        Err(exit) => {
            if exit.code == 0 {
                print!("{}", exit.message);
            } else {
                eprint!("{}", exit.message);
            }
            return exit.code;
        }
    };
    report::set_log_level(cfg.log_level);
    let (listeners, addrs) = match bind_all(&cfg) {
        Ok(bound) => bound,
        Err(e) => {
            eprintln!("fastric-rie: {e}");
            return 1;
        }
    };
    let (invoke_addr, runtime_addr) = (addrs[0], addrs[1]);
    let bound = cfg.function_url_address.as_deref().map(bind).transpose();
    let Ok(function_url_listener) = bound.map_err(|e| eprintln!("fastric-rie: {e}")) else {
        return 1;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fastric-rie: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let Ok(mut listeners) = listeners
            .into_iter()
            .map(tokio::net::TcpListener::from_std)
            .collect::<Result<Vec<_>, _>>()
        else {
            eprintln!("fastric-rie: cannot register the listeners");
            return 1;
        };
        let invoke_listener = listeners.remove(0);
        let (Ok(mut sigterm), Ok(mut sigint)) = (
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()),
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()),
        ) else {
            eprintln!("fastric-rie: cannot install signal handlers");
            return 1;
        };
        // Orphans of the runtime's tree are reparented here, where they can be killed (RIE.md).
        if !process::become_subreaper() {
            diag(
                LogLevel::Debug,
                "PR_SET_CHILD_SUBREAPER refused; escaped runtime children may outlive it",
            );
        }
        let live_runtimes = std::sync::Arc::default();
        let mut envs = Vec::with_capacity(listeners.len());
        for (listener, addr) in listeners.into_iter().zip(&addrs[1..]) {
            let emu = Emulator::new(cfg.clone(), *addr, std::sync::Arc::clone(&live_runtimes));
            let e = emu.clone();
            tokio::task::spawn_local(serve(listener, move |request| {
                let e = e.clone();
                async move { runtime_api_server::handle(&e, request).await }
            }));
            envs.push(emu);
        }
        let pool = pool::Pool::new(envs);
        let p = pool.clone();
        tokio::task::spawn_local(serve(invoke_listener, move |request| {
            let p = p.clone();
            async move { streaming::route(&p, request).await }
        }));
        if let Some(Err(e)) = function_url_listener.map(|l| function_url::spawn(l, &pool)) {
            eprintln!("fastric-rie: {e}");
            return 1;
        }
        // Tests parse this line to learn the ports when 0 was asked for.
        eprintln!(
            "[fastric-rie] listening: invoke=http://{invoke_addr}/2015-03-31/functions/function/invocations \
             runtime-api={runtime_addr}"
        );
        if cfg.eager_init {
            pool.envs[0].start_runtime();
        }
        if addrs.len() > 2 {
            let others: Vec<String> = addrs[2..].iter().map(ToString::to_string).collect();
            diag(
                LogLevel::Info,
                &format!("runtime APIs of the other environments: {}", others.join(" ")),
            );
        }
        let signal = tokio::select! {
            _ = sigterm.recv() => "SIGTERM",
            _ = sigint.recv() => "SIGINT",
        };
        diag(LogLevel::Info, &format!("{signal} received, stopping the runtime"));
        for emu in &pool.envs {
            emu.shutdown().await;
        }
        0
    })
}
