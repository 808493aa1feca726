//! fastric's own diagnostic lines (`[fastric] <LEVEL> <message>`).
//!
//! They go to stderr, or, once [`set_fd`] was given the Lambda telemetry fd
//! (`_LAMBDA_TELEMETRY_LOG_FD`), as one TEXT frame per line to that fd, framed as awslambdaric frames
//! its log records (`awslambdaric-behaviour.md` section 7.6): a 16-byte big-endian header
//! (4-byte frame type, 4-byte message length in bytes, 8-byte timestamp in µs since the Unix epoch)
//! followed by the UTF-8 message without a trailing newline.

use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Severity of a diagnostic line; selects the TEXT frame type on the telemetry fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // Debug/Info/Critical are for other modules of the crate.
pub(crate) enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    /// The word written after `[fastric] `.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// The TEXT frame type of this level bucket (awslambdaric-behaviour.md 7.6).
    pub(crate) fn text_frame_type(self) -> u32 {
        match self {
            Level::Debug => 0xA55A_000B,
            Level::Info => 0xA55A_000F,
            Level::Warning => 0xA55A_0013,
            Level::Error => 0xA55A_0017,
            Level::Critical => 0xA55A_001B,
        }
    }
}

/// The telemetry fd, or -1 for stderr.
static TELEMETRY_FD: AtomicI32 = AtomicI32::new(-1);
/// Serialises frame writes so frames from several threads never interleave.
static WRITE_LOCK: Mutex<()> = Mutex::new(());

/// Directs later diagnostics to the telemetry fd `fd` (framed), or back to stderr with `None`.
/// The fd stays owned by the caller, who must call `set_fd(None)` before closing it.
pub(crate) fn set_fd(fd: Option<i32>) {
    TELEMETRY_FD.store(fd.filter(|fd| *fd >= 0).unwrap_or(-1), Ordering::SeqCst);
}

/// Writes one diagnostic line: `[fastric] <LEVEL> <message>\n` to stderr, or one TEXT frame with
/// the same text (no trailing newline) to the telemetry fd. Write failures are ignored (falls back
/// to stderr when the fd write fails).
pub(crate) fn log(level: Level, message: &str) {
    let line = format!("[fastric] {} {}", level.name(), message);
    let _guard = WRITE_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let fd = TELEMETRY_FD.load(Ordering::SeqCst);
    if fd >= 0 && write_fd(fd, &frame(level, &line, now_micros())).is_ok() {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(format!("{line}\n").as_bytes());
    let _ = stderr.flush();
}

/// Builds one telemetry frame (header + message bytes).
pub(crate) fn frame(level: Level, message: &str, timestamp_us: u64) -> Vec<u8> {
    let bytes = message.as_bytes();
    let mut out = Vec::with_capacity(16 + bytes.len());
    out.extend_from_slice(&level.text_frame_type().to_be_bytes());
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&timestamp_us.to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn write_fd(fd: i32, data: &[u8]) -> std::io::Result<()> {
    // One write() per frame in the common case, as awslambdaric's unbuffered sink does.
    (&*crate::stdio::borrow_fd(fd)).write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek};
    use std::os::fd::AsRawFd;

    #[test]
    fn frame_layout_is_big_endian() {
        let f = frame(Level::Warning, "[fastric] WARNING hi", 0x0102_0304_0506_0708);
        assert_eq!(&f[..4], &[0xA5, 0x5A, 0x00, 0x13]);
        assert_eq!(&f[4..8], &[0, 0, 0, 20]);
        assert_eq!(&f[8..16], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&f[16..], b"[fastric] WARNING hi");
    }

    #[test]
    fn frame_types_per_level() {
        let types: Vec<u32> = [Level::Debug, Level::Info, Level::Warning, Level::Error, Level::Critical]
            .iter()
            .map(|l| l.text_frame_type())
            .collect();
        assert_eq!(types, [0xA55A_000B, 0xA55A_000F, 0xA55A_0013, 0xA55A_0017, 0xA55A_001B]);
    }

    #[test]
    fn log_writes_frame_to_fd() {
        let path = std::env::temp_dir().join(format!("fastric-diag-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        set_fd(Some(file.as_raw_fd()));
        log(Level::Error, "boom é");
        set_fd(None);
        file.rewind().unwrap();
        let mut data = Vec::new();
        file.read_to_end(&mut data).unwrap();
        let _ = std::fs::remove_file(&path);
        // Other tests may log concurrently while the fd is set: walk the frames and find ours.
        let msg = "[fastric] ERROR boom é".as_bytes();
        let mut found = false;
        let mut rest = &data[..];
        while rest.len() >= 16 {
            let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
            let (head, payload) = (&rest[..16], &rest[16..16 + len]);
            if payload == msg {
                assert_eq!(&head[..4], &0xA55A_0017u32.to_be_bytes());
                found = true;
            }
            rest = &rest[16 + len..];
        }
        assert!(rest.is_empty());
        assert!(found);
    }
}
