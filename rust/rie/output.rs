//! The runtime's stdout and stderr, read through one pipe each per execution environment: every
//! byte is written on to the emulator's own stdout / stderr unchanged (as when they were
//! inherited), and the bytes of an invocation that asked for `X-Amz-Log-Type: Tail` are kept for
//! its `X-Amz-Log-Result`.
//!
//! A pipe is read by its own task when it becomes readable, and drained synchronously (never
//! blocking) before the emulator prints a `START`/`END`/`REPORT` line, so that what the runtime
//! wrote before posting its response is printed (and captured) before the `REPORT` line, as with an
//! inherited descriptor.

use std::io::{ErrorKind, Write as _};
use std::os::fd::OwnedFd;

use tokio::net::unix::pipe::Receiver;

/// The last bytes of an invocation's log returned by `X-Amz-Log-Result` (the Invoke API's "last
/// 4 KB of the execution log").
pub(crate) const TAIL_BYTES: usize = 4096;

/// Which of the emulator's streams a pipe is forwarded to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// One of the runtime's output pipes (the read end), non-blocking.
pub(crate) struct OutputPipe {
    pipe: Receiver,
    stream: Stream,
}

impl OutputPipe {
    /// Takes the read end `fd` of the runtime's stdout or stderr pipe (made non-blocking).
    pub(crate) fn new(fd: OwnedFd, stream: Stream) -> std::io::Result<Self> {
        Ok(Self {
            pipe: Receiver::from_owned_fd(fd)?,
            stream,
        })
    }

    /// Reads everything the pipe holds now without blocking, writes each chunk on to the
    /// emulator's stream and hands it to `sink`. Returns false once the pipe is at its end (every
    /// writer closed it) or broken.
    pub(crate) fn drain(&self, sink: &mut dyn FnMut(&[u8])) -> bool {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.pipe.try_read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    forward(self.stream, &buf[..n]);
                    sink(&buf[..n]);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
    }

    /// Waits until the pipe is readable (or at its end); false if it cannot be polled. (A read
    /// that finds the pipe empty clears the readiness, so bytes arriving later raise it again.)
    pub(crate) async fn readable(&self) -> bool {
        self.pipe.readable().await.is_ok()
    }
}

fn forward(stream: Stream, bytes: &[u8]) {
    // A closed or full emulator stream loses the bytes, as the runtime's own write would have failed.
    match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(bytes);
            let _ = out.flush();
        }
        Stream::Stderr => {
            let _ = std::io::stderr().lock().write_all(bytes);
        }
    }
}

/// The log of one invocation, kept to its last [`TAIL_BYTES`] (memory stays bounded whatever the
/// runtime prints).
#[derive(Debug, Default)]
pub(crate) struct TailLog {
    bytes: Vec<u8>,
}

impl TailLog {
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        if chunk.len() >= TAIL_BYTES {
            self.bytes.clear();
            self.bytes.extend_from_slice(&chunk[chunk.len() - TAIL_BYTES..]);
            return;
        }
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > 2 * TAIL_BYTES {
            let cut = self.bytes.len() - TAIL_BYTES;
            self.bytes.drain(..cut);
        }
    }

    /// The last [`TAIL_BYTES`] bytes.
    pub(crate) fn tail(&self) -> &[u8] {
        &self.bytes[self.bytes.len().saturating_sub(TAIL_BYTES)..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_4_kb() {
        let mut log = TailLog::default();
        log.push(b"START\n");
        assert_eq!(log.tail(), b"START\n");
        for i in 0..10_000u32 {
            log.push(format!("{i}\n").as_bytes());
        }
        let tail = log.tail();
        assert_eq!(tail.len(), TAIL_BYTES);
        assert!(tail.ends_with(b"9998\n9999\n"));
        assert!(log.bytes.len() <= 2 * TAIL_BYTES);
        log.push(&[b'x'; 5000]);
        assert_eq!(log.tail(), &[b'x'; TAIL_BYTES][..]);
    }
}
