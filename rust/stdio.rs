//! The write-through `sys.stdout` / `sys.stderr`: [`WriteThroughStream`].
//!
//! awslambdaric 4.2.2 replaces both streams by `Unbuffered(stream)`, whose `write(msg)` is
//! `stream.write(msg); stream.flush()` (`awslambdaric/bootstrap.py`, behaviour reference 7.1): every
//! write reaches the file descriptor before `write` returns, so nothing printed is lost when the process
//! dies. [`WriteThroughStream`] keeps that guarantee with less work per call: it encodes the `str` as
//! UTF-8 (free for ASCII strings, whose UTF-8 bytes are their storage) and `write(2)`s the bytes straight
//! to the stream's descriptor, without the text layer's pending list, a `bytes` object or the
//! `BufferedWriter` copy.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, TryLockError};
use std::time::Duration;

use pyo3::exceptions::PyOSError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

/// A write-through text stream over another text stream's file descriptor (`sys.stdout`/`sys.stderr`).
///
/// `WriteThroughStream(stream)`: `stream` is the original `io.TextIOWrapper` (kept as `.stream`, as
/// awslambdaric's `Unbuffered` does). Its buffer must write straight to `stream.fileno()` and its
/// newline translation must be none (POSIX standard streams); `fastric.log.make_write_through` checks
/// that and makes `stream` `write_through` first, so text written to it (`sys.__stdout__`) reaches its
/// buffer at once.
///
/// `write(s)`: for a `str` that encodes to UTF-8 while `stream.encoding` is UTF-8, flushes `stream`
/// (so bytes pending in `stream.buffer` go out first, in order), then writes every byte to the
/// descriptor without the GIL (after a partial write or `EINTR` the signal handlers run, as with
/// `BufferedWriter`, then the write goes on; `EAGAIN` waits 1 ms and retries), one `write` call at a
/// time per stream so one call's bytes stay contiguous. Returns the number of characters. Anything
/// else (not a `str`, lone surrogates, a non-UTF-8 encoding) goes through `stream.write(s)` +
/// `stream.flush()`, so its result and errors are `TextIOWrapper`'s. A failed `write(2)` raises
/// `OSError(errno, strerror)` (its subclass by errno, e.g. `BrokenPipeError` for `EPIPE`), as `FileIO`
/// does. A closed or detached `stream` raises its `ValueError` (from the flush).
///
/// `writelines(lines)` and `reconfigure(...)` go to `stream` (then `flush()` / a fresh encoding check);
/// any other attribute (`flush`, `fileno`, `isatty`, `encoding`, `errors`, `buffer`, `closed`, ...) is
/// `stream`'s. `with` does nothing, as with `Unbuffered`.
#[pyclass(frozen, name = "WriteThroughStream", module = "fastric._fastric")]
pub(crate) struct WriteThroughStream {
    /// The original text stream.
    stream: Py<PyAny>,
    /// `stream.fileno()`, borrowed: the stream owns it.
    fd: i32,
    /// `stream.encoding` is UTF-8 (checked at construction and after `reconfigure`).
    utf8: AtomicBool,
    /// Serialises the direct writes of this stream (like `BufferedWriter`'s lock around its raw writes).
    lock: WriterLock,
}

#[pymethods]
impl WriteThroughStream {
    #[new]
    fn new(stream: Bound<'_, PyAny>) -> PyResult<Self> {
        let fd: i32 = stream.call_method0(intern!(stream.py(), "fileno"))?.extract()?;
        let utf8 = AtomicBool::new(is_utf8(&stream)?);
        Ok(WriteThroughStream {
            stream: stream.unbind(),
            fd,
            utf8,
            lock: WriterLock::new(),
        })
    }

    /// Writes `s` through to the descriptor; returns `len(s)` (see the class docs).
    fn write<'py>(&self, py: Python<'py>, s: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let stream = self.stream.bind(py);
        let Ok(text) = s.cast::<PyString>() else {
            return fallback_write(stream, s); // TextIOWrapper's own TypeError
        };
        if !self.utf8.load(Ordering::Relaxed) {
            return fallback_write(stream, s);
        }
        let Ok(utf8) = text.to_str() else {
            return fallback_write(stream, s); // lone surrogates: the stream's `errors` handler decides
        };
        // Whatever sits in the stream's buffer (sys.stdout.buffer / sys.__stdout__ writes) goes first.
        // With nothing pending this makes no system call.
        stream.call_method0(intern!(py, "flush"))?;
        if !utf8.is_empty() {
            self.write_all(py, utf8.as_bytes())?;
        }
        Ok(text.len()?.into_pyobject(py)?.into_any())
    }

    /// `stream.writelines(lines)`, then `stream.flush()`.
    fn writelines(&self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        let stream = self.stream.bind(py);
        stream.call_method1(intern!(py, "writelines"), (lines,))?;
        stream.call_method0(intern!(py, "flush"))?;
        Ok(())
    }

    /// `stream.reconfigure(*args, **kwargs)`; the UTF-8 fast path follows the new encoding.
    #[pyo3(signature = (*args, **kwargs))]
    fn reconfigure(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let stream = self.stream.bind(py);
        let result = stream.call_method(intern!(py, "reconfigure"), args, kwargs);
        // Re-check even after a failure: the encoding may have changed before the error.
        self.utf8.store(is_utf8(stream).unwrap_or(false), Ordering::Relaxed);
        result.map(drop)
    }

    /// Forgets who holds the writer lock. `fastric.log.make_write_through` registers it with
    /// `os.register_at_fork(after_in_child=...)`: a thread writing while another one forks does not
    /// exist in the child, which would otherwise wait for it forever on its first write.
    fn _after_fork_in_child(&self) {
        self.lock.reset();
    }

    /// The original stream (awslambdaric's `Unbuffered.stream`).
    #[getter]
    fn stream(&self, py: Python<'_>) -> Py<PyAny> {
        self.stream.clone_ref(py)
    }

    fn __getattr__<'py>(&self, py: Python<'py>, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        self.stream.bind(py).getattr(name)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    #[allow(clippy::unused_self)] // a method, so that `with` finds it on the type
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) {}

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<fastric WriteThroughStream over {}>",
            self.stream.bind(py).repr()?
        ))
    }
}

impl WriteThroughStream {
    /// Writes all of `data` to the descriptor, detached; see the class docs for the error handling.
    fn write_all(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let (fd, lock) = (self.fd, &self.lock);
        // `data` borrows the UTF-8 bytes of a `str` the caller keeps alive for the whole call; `str`
        // objects are immutable, so reading them without the GIL is sound.
        // The common case, one detach: take the lock, write everything at once, let the lock go.
        let (owned, first) = py.detach(|| {
            let owned = lock.acquire();
            let result = write_once(fd, data);
            if owned && matches!(result, Ok(n) if n == data.len()) {
                lock.release();
                return (false, result);
            }
            (owned, result)
        });
        // A partial write: keep the lock (so this call's bytes stay contiguous) until all is written.
        let _release = Release(owned.then_some(lock));
        let mut rest = data;
        let mut result = first;
        loop {
            match result {
                Ok(n) => {
                    rest = &rest[n..];
                    if rest.is_empty() {
                        return Ok(());
                    }
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(os_error(py, &err)),
            }
            // As BufferedWriter does after a short write or EINTR: run the signal handlers (they may
            // raise) before blocking again; a signal may be what cut the write short.
            py.check_signals()?;
            result = py.detach(|| write_once(fd, rest));
        }
    }
}

/// One writer at a time per stream, held across the partial writes of one `write` call (as
/// `BufferedWriter` holds its lock around its raw writes). Unlike a `Mutex`, it can be held while the
/// thread runs Python code (signal handlers between partial writes), and a handler on the owning
/// thread that writes to the same stream does not deadlock: it writes without the lock. Uncontended,
/// taking and releasing it makes no system call (the condvar is only signalled when someone waits).
struct WriterLock {
    state: Mutex<LockState>,
    free: Condvar,
}

#[derive(Default)]
struct LockState {
    /// The owning thread's token ([`thread_token`]), 0 when free.
    owner: usize,
    /// Threads waiting in [`WriterLock::acquire`].
    waiters: usize,
}

thread_local! {
    static TOKEN: u8 = const { 0 };
}

/// A number identifying the calling thread while it lives (the address of a thread-local), never 0.
fn thread_token() -> usize {
    TOKEN.with(std::ptr::from_ref::<u8>) as usize
}

impl WriterLock {
    fn new() -> Self {
        WriterLock {
            state: Mutex::new(LockState::default()),
            free: Condvar::new(),
        }
    }

    /// Waits until this thread owns the lock (call it detached: it may block). Returns false when this
    /// thread owns it already (the caller then must not release it).
    fn acquire(&self) -> bool {
        let me = thread_token();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.owner == me {
            return false;
        }
        while state.owner != 0 {
            state.waiters += 1;
            state = self.free.wait(state).unwrap_or_else(PoisonError::into_inner);
            state.waiters -= 1;
        }
        state.owner = me;
        true
    }

    /// Frees the lock whoever holds it (in a forked child, where the holder does not exist).
    fn reset(&self) {
        let state = match self.state.try_lock() {
            Ok(state) => Some(state),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None, // held for a few instructions at fork time: leave it
        };
        if let Some(mut state) = state {
            *state = LockState::default();
        }
    }

    fn release(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.owner = 0;
        if state.waiters > 0 {
            self.free.notify_one();
        }
    }
}

/// Releases the lock it holds, if any, when dropped (also on an error or a panic).
struct Release<'a>(Option<&'a WriterLock>);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        if let Some(lock) = self.0 {
            lock.release();
        }
    }
}

/// `stream.write(s)` then `stream.flush()`; the result of `write`.
fn fallback_write<'py>(stream: &Bound<'py, PyAny>, s: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = stream.py();
    let n = stream.call_method1(intern!(py, "write"), (s,))?;
    stream.call_method0(intern!(py, "flush"))?;
    Ok(n)
}

/// `codecs.lookup(stream.encoding).name == "utf-8"` (so `utf8`, `UTF8`, `u8`, ... all count; `utf-8-sig`
/// does not).
fn is_utf8(stream: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = stream.py();
    let encoding = stream.getattr(intern!(py, "encoding"))?;
    let info = py
        .import(intern!(py, "codecs"))?
        .call_method1(intern!(py, "lookup"), (encoding,))?;
    Ok(info.getattr(intern!(py, "name"))?.extract::<String>()? == "utf-8")
}

/// `OSError(errno, os.strerror(errno))`, which Python turns into the errno's subclass (`BrokenPipeError`,
/// ...), as `FileIO.write` raises it.
fn os_error(py: Python<'_>, err: &std::io::Error) -> PyErr {
    let Some(errno) = err.raw_os_error() else {
        return PyOSError::new_err(err.to_string());
    };
    let strerror = py
        .import(intern!(py, "os"))
        .and_then(|os| os.call_method1(intern!(py, "strerror"), (errno,)))
        .and_then(|s| s.extract::<String>())
        .unwrap_or_else(|_| err.to_string());
    PyOSError::new_err((errno, strerror))
}

/// One `write(2)` of (a prefix of) `data` to `fd`: the number of bytes written (at least 1 for a
/// non-empty `data`), or the error (`EINTR` included). `EAGAIN` (a non-blocking descriptor that is
/// full) is waited out, 1 ms at a time.
fn write_once(fd: i32, data: &[u8]) -> std::io::Result<usize> {
    let file = borrow_fd(fd);
    loop {
        match (&*file).write(data) {
            Ok(0) if !data.is_empty() => return Err(std::io::Error::from(ErrorKind::WriteZero)),
            Err(err) if err.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
            other => return other,
        }
    }
}

/// `fd` as a `File` that is never closed: the one place fastric writes to a descriptor number it does
/// not own (`print()` output here, `[fastric]` frames on the telemetry fd in `diagnostics`). std has no
/// safe `write(2)` on such a number; the direct write is what makes `print()` cheaper than under
/// awslambdaric (see `WriteThroughStream`).
#[allow(unsafe_code)]
pub(crate) fn borrow_fd(fd: i32) -> ManuallyDrop<File> {
    use std::os::fd::FromRawFd;
    // SAFETY: the fd is borrowed, not owned: its owner (the Python stream this object wraps, or the
    // telemetry sink that registered it with `diagnostics::set_fd`) keeps it open while we may write;
    // ManuallyDrop guarantees we never close it. If user code closed the descriptor behind its owner's
    // back, write(2) fails with EBADF (raised as OSError, or the line goes to stderr), as FileIO would.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn write_once_makes_progress_and_reports_errno() {
        let (reader, writer) = std::io::pipe().unwrap();
        let data = vec![b'x'; 200_000]; // more than a pipe holds: needs several writes
        let fd = writer.as_raw_fd();
        let t = std::thread::spawn(move || {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut { reader }, &mut out).unwrap();
            out
        });
        let mut rest = &data[..];
        while !rest.is_empty() {
            let n = write_once(fd, rest).unwrap();
            assert!(n > 0);
            rest = &rest[n..];
        }
        drop(writer);
        assert_eq!(t.join().unwrap().len(), data.len());
        let (r2, w2) = std::io::pipe().unwrap();
        drop(r2);
        // Rust programs ignore SIGPIPE, so EPIPE is returned.
        assert_eq!(write_once(w2.as_raw_fd(), b"abc").unwrap_err().raw_os_error(), Some(32));
    }

    #[test]
    fn writer_lock_is_exclusive_and_reentrant_without_owning() {
        let lock = std::sync::Arc::new(WriterLock::new());
        assert!(lock.acquire());
        assert!(!lock.acquire()); // the same thread: goes on without owning it
        let other = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                let owned = lock.acquire(); // waits for the release below
                lock.release();
                owned
            })
        };
        lock.release();
        assert!(other.join().unwrap());
        assert!(lock.acquire());
        lock.release();
    }
}
