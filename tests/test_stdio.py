"""The write-through ``sys.stdout``/``sys.stderr``: ``fastric._fastric.WriteThroughStream`` (native, chosen
by ``fastric.log.make_write_through`` for a UTF-8 ``TextIOWrapper`` over a file descriptor) and the
pure-Python fallbacks. Every stream here writes to a real pipe read by the test; nothing is timed."""

from __future__ import annotations

import codecs
import errno
import fcntl
import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from fastric import log
from fastric._fastric import WriteThroughStream

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class Pipe:
    """A pipe whose write end is wrapped like ``sys.stdout`` (a ``TextIOWrapper`` over a
    ``BufferedWriter`` over a ``FileIO``, as CPython builds it), read by the test."""

    def __init__(self, encoding: str = "utf-8", errors: str = "strict", buffered: bool = True, size=None):
        self.r, self.w = os.pipe()
        if size is not None:
            fcntl.fcntl(self.w, F_SETPIPE_SZ, size)
        raw = io.FileIO(self.w, "wb", closefd=True)
        binary = io.BufferedWriter(raw) if buffered else raw
        self.orig = io.TextIOWrapper(binary, encoding=encoding, errors=errors, line_buffering=False)
        self.stream = log.make_write_through(self.orig)

    def read_now(self) -> bytes:
        """Everything in the pipe so far, without waiting."""
        os.set_blocking(self.r, False)
        out = b""
        try:
            while True:
                chunk = os.read(self.r, 1 << 16)
                if not chunk:
                    break
                out += chunk
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(self.r, True)
        return out

    def drain_in_thread(
        self, delay_s: float = 0.0, chunk: int = 1 << 16
    ) -> tuple[threading.Thread, list[bytes]]:
        """Start a thread reading until EOF (``chunk`` bytes per read, ``delay_s`` between reads)."""
        got: list[bytes] = []

        def run() -> None:
            while True:
                data = os.read(self.r, chunk)
                if not data:
                    return
                got.append(data)
                if delay_s:
                    time.sleep(delay_s)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t, got

    def close(self) -> None:
        for close in (self.orig.close, lambda: os.close(self.r)):
            try:
                close()
            except OSError:
                pass


@pytest.fixture
def pipe():
    p = Pipe()
    yield p
    p.close()


# -- which wrapper --------------------------------------------------------------------------------------


def test_utf8_fd_stream_gets_the_native_stream(pipe: Pipe) -> None:
    s = pipe.stream
    assert type(s) is WriteThroughStream
    assert not isinstance(s, io.TextIOWrapper)  # as awslambdaric's Unbuffered
    assert isinstance(s, io.TextIOBase)  # registered
    assert pipe.orig.write_through  # text written to the original reaches its buffer at once
    assert log.make_write_through(s) is s
    assert s.stream is pipe.orig


def test_unbuffered_binary_layer_gets_the_native_stream() -> None:
    p = Pipe(buffered=False)  # python -u / PYTHONUNBUFFERED: sys.stdout.buffer is the FileIO
    try:
        assert type(p.stream) is WriteThroughStream
        p.stream.write("x\n")
        assert p.read_now() == b"x\n"
    finally:
        p.close()


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-8-sig", "ascii"])
def test_other_encodings_keep_the_python_wrapper(encoding: str) -> None:
    p = Pipe(encoding=encoding)
    try:
        assert type(p.stream) is log.WriteThroughTextIO
        if encoding in ("latin-1", "cp1252"):  # (BOM encodings: whatever TextIOWrapper does)
            p.stream.write("é\n")
            assert p.read_now() == "é\n".encode(encoding)
    finally:
        p.close()


@pytest.mark.parametrize("alias", ["UTF8", "u8", "utf_8"])
def test_utf8_aliases_take_the_native_stream(alias: str) -> None:
    p = Pipe(encoding=alias)
    try:
        assert type(p.stream) is WriteThroughStream
    finally:
        p.close()


def test_textiowrapper_without_fd_and_subclasses_keep_the_python_wrappers() -> None:
    no_fd = io.TextIOWrapper(io.BufferedWriter(io.BytesIO()), encoding="utf-8")
    assert type(log.make_write_through(no_fd)) is log.WriteThroughTextIO

    class Sub(io.TextIOWrapper):
        pass

    r, w = os.pipe()
    try:
        sub = Sub(io.BufferedWriter(io.FileIO(w, "wb", closefd=False)), encoding="utf-8")
        assert type(log.make_write_through(sub)) is log.Unbuffered
    finally:
        os.close(r)
        os.close(w)
    assert log.make_write_through(None) is None


# -- write ------------------------------------------------------------------------------------------------


def test_write_returns_characters_and_writes_utf8(pipe: Pipe) -> None:
    s = pipe.stream
    assert s.write("héllo ☃ 😀\n") == 10
    assert s.write("") == 0
    print("a", 1, None, sep="-", file=s)
    assert pipe.read_now() == "héllo ☃ 😀\na-1-None\n".encode()


def test_str_subclass_is_written(pipe: Pipe) -> None:
    class S(str):
        pass

    assert pipe.stream.write(S("sub\n")) == 4
    assert pipe.read_now() == b"sub\n"


@pytest.mark.parametrize("value", [b"x", bytearray(b"x"), 1, None, ["x"]])
def test_non_str_raises_textiowrapper_type_error(pipe: Pipe, value: object) -> None:
    with pytest.raises(TypeError) as got:
        pipe.stream.write(value)
    ref = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with pytest.raises(TypeError) as expected:
        ref.write(value)  # type: ignore[arg-type]
    assert str(got.value) == str(expected.value)
    assert str(got.value).startswith("write() argument must be str, not ")
    assert pipe.read_now() == b""


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ("surrogateescape", b"a\x80b\n"),
        ("backslashreplace", b"a\\udc80b\n"),
        ("replace", b"a?b\n"),
        ("surrogatepass", b"a\xed\xb2\x80b\n"),
    ],
)
def test_lone_surrogates_follow_the_errors_handler(errors: str, expected: bytes) -> None:
    p = Pipe(errors=errors)
    try:
        assert type(p.stream) is WriteThroughStream
        assert p.stream.write("a\udc80b\n") == 4
        assert p.read_now() == expected
    finally:
        p.close()


def test_lone_surrogate_strict_raises_textiowrapper_error(pipe: Pipe) -> None:
    with pytest.raises(UnicodeEncodeError) as got:
        pipe.stream.write("ok \ud800 no\n")
    ref = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with pytest.raises(UnicodeEncodeError) as expected:
        ref.write("ok \ud800 no\n")
    assert str(got.value) == str(expected.value)
    pipe.stream.write("after\n")  # the stream is still usable, nothing half-written
    assert pipe.read_now() == b"after\n"


def test_reconfigured_encoding_is_followed(pipe: Pipe) -> None:
    s = pipe.stream
    s.reconfigure(encoding="latin-1")
    assert s.encoding == "latin-1"
    s.write("é\n")
    s.reconfigure(encoding="utf-8", errors="replace")
    s.write("é\udc80\n")
    assert pipe.read_now() == b"\xe9\n\xc3\xa9?\n"
    with pytest.raises(LookupError):
        s.reconfigure(encoding="no-such-codec")
    s.write("still utf-8 é\n")
    assert pipe.read_now() == "still utf-8 é\n".encode()


# -- ordering with the original stream and its buffer ------------------------------------------------------


def test_order_with_original_stream_and_buffer(pipe: Pipe) -> None:
    s, orig = pipe.stream, pipe.orig
    orig.write("1 original\n")
    s.buffer.write(b"2 buffer\n")
    s.write("3 wrapper\n")
    s.buffer.write(b"4 buffer\n")
    orig.write("5 original\n")
    s.write("")  # an empty write still flushes what is pending
    assert pipe.read_now() == b"1 original\n2 buffer\n3 wrapper\n4 buffer\n5 original\n"
    s.buffer.write(b"6 pending")
    s.flush()  # delegated
    assert pipe.read_now() == b"6 pending"


def test_writelines_and_with(pipe: Pipe) -> None:
    s = pipe.stream
    with s as same:
        assert same is s
        s.writelines(["a\n", "b", "\n"])
    assert not s.closed  # `with` does not close, as with awslambdaric's Unbuffered
    assert pipe.read_now() == b"a\nb\n"


def test_delegated_attributes(pipe: Pipe) -> None:
    s, orig = pipe.stream, pipe.orig
    assert s.fileno() == pipe.w
    assert (s.encoding, s.errors, s.buffer, s.closed, s.writable(), s.isatty(), s.line_buffering) == (
        orig.encoding, orig.errors, orig.buffer, False, True, False, False,
    )  # fmt: skip
    assert repr(s) == f"<fastric WriteThroughStream over {orig!r}>"
    with pytest.raises(AttributeError):
        s.no_such_attribute  # noqa: B018


def test_closed_stream_raises_value_error(pipe: Pipe) -> None:
    pipe.orig.close()
    with pytest.raises(ValueError, match=r"^I/O operation on closed file\.$"):
        pipe.stream.write("x")
    assert pipe.stream.closed


# -- the file descriptor ------------------------------------------------------------------------------------


def test_large_write_to_small_pipe_with_slow_reader_releases_the_gil() -> None:
    p = Pipe(size=4096)
    try:
        text = "".join(f"line {i:06d} é\n" for i in range(40_000))  # ~600 kB, > 100 pipe-fuls
        result: list[object] = []
        writer = threading.Thread(target=lambda: result.append(p.stream.write(text)), daemon=True)
        writer.start()
        time.sleep(0.2)  # the GIL must be free while the writer waits on the full pipe...
        assert writer.is_alive()  # ...and it is waiting: nothing reads yet
        drainer, got = p.drain_in_thread(delay_s=0.0005, chunk=1000)  # a slow reader
        writer.join(60)
        assert result == [len(text)]
        p.orig.close()
        drainer.join(60)
        assert b"".join(got) == text.encode()
    finally:
        p.close()


def test_epipe_raises_broken_pipe_error(pipe: Pipe) -> None:
    os.close(pipe.r)
    with pytest.raises(BrokenPipeError) as got:
        pipe.stream.write("nobody reads\n")
    assert got.value.errno == errno.EPIPE
    assert got.value.strerror == os.strerror(errno.EPIPE)
    pipe.r = os.open(os.devnull, os.O_RDONLY)  # for close()


def test_ebadf_raises_os_error() -> None:
    r, w = os.pipe()
    orig = io.TextIOWrapper(io.BufferedWriter(io.FileIO(w, "wb", closefd=False)), encoding="utf-8")
    s = log.make_write_through(orig)
    os.close(w)  # behind the stream's back, as os.close(1) would be
    os.close(r)
    with pytest.raises(OSError) as got:
        s.write("x")
    assert (type(got.value), got.value.errno, got.value.strerror) == (
        OSError,
        errno.EBADF,
        os.strerror(errno.EBADF),
    )
    # FileIO raises the same
    with pytest.raises(OSError) as ref:
        io.FileIO(w, "wb", closefd=False).write(b"x")
    assert (ref.value.errno, ref.value.strerror) == (got.value.errno, got.value.strerror)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs pthread_kill")
@pytest.mark.parametrize("handler_raises", [False, True])
def test_signal_while_blocked_runs_the_handler(handler_raises: bool) -> None:
    """A signal interrupting the blocked write(2) (EINTR) runs the Python handler, as FileIO does: an
    exception from it comes out of ``write``; otherwise the write goes on and loses nothing."""
    p = Pipe(size=4096)
    calls = []

    class Stop(Exception):
        pass

    def on_signal(signum, frame):
        calls.append(signum)
        if handler_raises:
            raise Stop
        drainer_box.append(p.drain_in_thread())

    drainer_box: list = []
    old = signal.signal(signal.SIGUSR1, on_signal)
    main = threading.get_ident()
    kicker = threading.Timer(0.2, lambda: signal.pthread_kill(main, signal.SIGUSR1))
    text = "x" * 200_000 + "\n"
    try:
        kicker.start()
        if handler_raises:
            with pytest.raises(Stop):
                p.stream.write(text)
        else:
            assert p.stream.write(text) == len(text)
            p.orig.close()
            drainer, got = drainer_box[0]
            drainer.join(60)
            assert b"".join(got) == text.encode()
        assert calls == [signal.SIGUSR1]
    finally:
        kicker.cancel()
        signal.signal(signal.SIGUSR1, old)
        p.close()


def test_threads_printing_concurrently_lose_nothing() -> None:
    p = Pipe(size=4096)
    try:
        drainer, got = p.drain_in_thread()
        n_threads, n_lines = 8, 1500
        big = "B" * 20_000  # larger than the pipe: must still come out in one piece

        def work(t: int) -> None:
            for i in range(n_lines):
                print(f"<T{t}-{i:05d}>", "payload", file=p.stream)
                if i % 500 == 0:
                    p.stream.write(f"[{t}{big}{t}]\n")

        threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        p.orig.close()
        drainer.join(60)
        out = b"".join(got).decode()
        for t in range(n_threads):
            assert out.count(f"[{t}{big}{t}]\n") == 3
            positions = [out.index(f"<T{t}-{i:05d}>") for i in range(n_lines)]
            assert positions == sorted(positions)
        assert out.count("payload") == n_threads * n_lines
        assert out.count("\n") == n_threads * (n_lines + 3)
        assert len(out) == n_threads * (n_lines * len("<T0-00000> payload\n") + 3 * (len(big) + 5))
    finally:
        p.close()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_fork_while_another_thread_writes() -> None:
    """A thread is blocked in a write (holding the stream's writer lock) when the main thread forks: the
    child's first write does not wait for that thread, which does not exist in the child."""
    p = Pipe(size=4096)
    try:
        big = "W" * 100_000 + "\n"
        writer = threading.Thread(target=p.stream.write, args=(big,), daemon=True)
        writer.start()
        time.sleep(0.2)  # the writer is now blocked on the full pipe, holding the lock
        assert writer.is_alive()
        pid = os.fork()
        if pid == 0:  # the child: one write, then leave at once
            try:
                p.stream.write("child\n")
            finally:
                os._exit(0)
        drainer, got = p.drain_in_thread()
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not done:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert done, "the child hung on its first write"
        assert os.waitstatus_to_exitcode(status) == 0
        writer.join(60)
        p.orig.close()
        drainer.join(60)
        out = b"".join(got)
        assert out.count(b"child\n") == 1
        assert out.replace(b"child\n", b"", 1) == big.encode()
    finally:
        p.close()


# -- under the runtime ------------------------------------------------------------------------------------

SCRIPT = r"""
import io, os, sys
from fastric import log
sys.stdout = log.make_write_through(sys.stdout)
sys.stderr = log.make_write_through(sys.stderr)
print(type(sys.stdout).__name__, type(sys.stderr).__name__, isinstance(sys.stdout, io.TextIOWrapper),
      sys.stdout.mode, sys.stdout.name, sys.stderr.name, sys.stdout.fileno(), sys.stderr.fileno())
print("before _exit", end="")
sys.stderr.write("err before _exit")
os._exit(3)
"""


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_text_before_os_exit_is_not_lost(unbuffered: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = unbuffered
    env["PYTHONIOENCODING"] = "utf-8"
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, env=env, timeout=60)
    assert r.returncode == 3
    assert r.stdout == b"WriteThroughStream WriteThroughStream False w <stdout> <stderr> 1 2\nbefore _exit"
    assert r.stderr == b"err before _exit"


def test_codecs_lookup_matches_the_check() -> None:
    # The native stream re-checks the encoding with codecs.lookup(...).name == "utf-8".
    assert codecs.lookup("UTF8").name == "utf-8" and codecs.lookup("utf-8-sig").name != "utf-8"
