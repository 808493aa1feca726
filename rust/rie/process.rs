//! Starting, signalling and measuring the runtime process (and its process group).

use std::net::SocketAddr;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{ExitStatus, Stdio};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::cli::Config;

/// Starts the runtime in its own process group (pgid = its pid), with stdin closed and
/// stdout/stderr each a pipe (read by `output.rs`, which writes it on to the emulator's own), and the Lambda environment on top of the emulator's own
/// (aws-lambda-rie forwards every variable too).
pub(crate) fn spawn(cfg: &Config, runtime_api: SocketAddr) -> std::io::Result<tokio::process::Child> {
    let mut command = std::process::Command::new(&cfg.command[0]);
    command
        .args(&cfg.command[1..])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &cfg.function_name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", &cfg.function_version)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", cfg.memory_mb.to_string())
        .env("AWS_LAMBDA_LOG_GROUP_NAME", &cfg.log_group)
        .env("AWS_LAMBDA_LOG_STREAM_NAME", &cfg.log_stream)
        .env("AWS_REGION", &cfg.region);
    if std::env::var_os("AWS_DEFAULT_REGION").is_none() {
        command.env("AWS_DEFAULT_REGION", &cfg.region);
    }
    if std::env::var_os("AWS_LAMBDA_INITIALIZATION_TYPE").is_none() {
        command.env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
    }
    if let Some(handler) = &cfg.handler {
        command.env("_HANDLER", handler);
    }
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(false);
    command.spawn()
}

/// Sends `signal` to the process group `pgid`; a group that is already gone is not an error.
pub(crate) fn signal_group(pgid: i32, signal: Signal) {
    if pgid > 0 {
        let _ = killpg(Pid::from_raw(pgid), signal);
    }
}

/// Makes this process the "child subreaper" of its descendants (Linux `PR_SET_CHILD_SUBREAPER`): a
/// process that left the runtime's group (`setsid`, a double fork) and was orphaned is reparented
/// here instead of to init, so [`kill_escaped`] can find it. False when the kernel refuses.
pub(crate) fn become_subreaper() -> bool {
    nix::sys::prctl::set_child_subreaper(true).is_ok()
}

/// SIGKILLs this process's children that carry `marker` (`NAME=value`, the runtime's
/// `AWS_LAMBDA_RUNTIME_API`) in their environment, other than `keep` (the live runtimes):
/// descendants of a runtime that escaped its process group and were reparented here. Children that
/// are already zombies are collected too (their environment is gone). Returns the pids to [`reap`].
pub(crate) fn kill_escaped(marker: &[u8], keep: &[u32]) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        if keep.contains(&pid) || pid == me {
            continue;
        }
        let Some((parent, zombie)) = parent_and_zombie(pid) else {
            continue;
        };
        if parent != me {
            continue;
        }
        if zombie {
            found.push(pid);
        } else if has_env_entry(pid, marker) {
            if let Ok(raw) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(Pid::from_raw(raw), Signal::SIGKILL);
            }
            found.push(pid);
        }
    }
    found
}

/// Collects the exit status of `pids` (children of this process that were killed), waiting up to
/// 1 s in all; a pid that is not (or no longer) a child is skipped.
pub(crate) async fn reap(mut pids: Vec<u32>) {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    for _ in 0..100 {
        pids.retain(|pid| {
            let Ok(raw) = i32::try_from(*pid) else { return false };
            matches!(
                waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG)),
                Ok(WaitStatus::StillAlive)
            )
        });
        if pids.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// `(parent pid, is a zombie)` from `/proc/<pid>/stat`.
fn parent_and_zombie(pid: u32) -> Option<(u32, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses, so split at the last ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_ascii_whitespace();
    let state = fields.next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((parent, state == "Z"))
}

fn has_env_entry(pid: u32, entry: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| env.split(|b| *b == 0).any(|e| e == entry))
}

/// How Go (and so Lambda) describes an exit: `exit status 7`, `signal: killed`.
pub(crate) fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    let Some(signal) = status.signal() else {
        return "exit status unknown".to_owned();
    };
    let name = match signal {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        other => return format!("signal: signal {other}"),
    };
    format!("signal: {name}")
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line["VmHWM:".len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

fn children(pid: u32, out: &mut Vec<u32>) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(text.split_ascii_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
    }
}

/// Peak resident memory of the runtime's process tree, kB: the sum of `VmHWM` over `pid` and
/// its descendants (`/proc/<pid>/task/*/children`). `None` when `pid` is gone.
pub(crate) fn max_memory_kb(pid: u32) -> Option<u64> {
    let mut total = vm_hwm_kb(pid)?;
    let mut queue = Vec::new();
    children(pid, &mut queue);
    let mut seen = 0;
    while let Some(child) = queue.pop() {
        seen += 1;
        if seen > 4096 {
            break;
        }
        total += vm_hwm_kb(child).unwrap_or(0);
        children(child, &mut queue);
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_descriptions() {
        assert_eq!(describe_exit(ExitStatus::from_raw(7 << 8)), "exit status 7");
        assert_eq!(describe_exit(ExitStatus::from_raw(9)), "signal: killed");
        assert_eq!(describe_exit(ExitStatus::from_raw(11)), "signal: segmentation fault");
    }

    #[test]
    fn own_stat_fields() {
        let (ppid, zombie) = parent_and_zombie(std::process::id()).unwrap();
        assert!(ppid > 0 && !zombie);
        assert!(
            has_env_entry(std::process::id(), b"FASTRIC_NO_SUCH_ENTRY=1")
                == std::env::var_os("FASTRIC_NO_SUCH_ENTRY").is_some()
        );
    }

    #[test]
    fn own_memory() {
        assert!(max_memory_kb(std::process::id()).unwrap_or(0) > 0);
    }
}
