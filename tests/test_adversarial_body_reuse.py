"""The event body buffer is reused between invocations and overwritten in place (rust/http.rs,
`read_exact_body`): every event must arrive exactly as sent, never with bytes of an earlier, longer
one, whatever the framing, pacing or connection history. The echo handler returns raw (non-JSON)
events unchanged, so each post must equal its event byte for byte."""

from __future__ import annotations

from conftest import HANDLERS_DIR, run_client
from support.runtime_api_fake import Fault, Invocation


def _body(size: int, fill: int) -> bytes:
    return bytes((fill + i * 7) % 251 for i in range(size))


def test_shorter_events_after_longer_ones_arrive_exactly():
    sizes = [3_000_000, 10, 0, 100_000, 99_999, 1, 3_000_001, 16 * 1024, 16 * 1024 + 1, 5, 4_000_000, 2]
    bodies = [_body(n, i) for i, n in enumerate(sizes)]
    faults = [
        Fault("next", nth=1, action="drip", drip_chunk=3, drip_delay_s=0.0),
        Fault("next", nth=4, action="reset_mid_body"),
        # A keep-alive connection closed after a 202 (the next /next reconnects). Not after a /next
        # answer: a response posted into a connection the server then closes unread is lost by
        # design (a POST is never resent; docs/RELIABILITY.md), which would make this racy.
        Fault("post", nth=5, action="close_after"),
        Fault("next", nth=9, action="drip", drip_chunk=1, drip_delay_s=0.0),
        Fault("post", nth=10, action="close_after"),
    ]
    invocations = [Invocation(body=b, content_type="application/octet-stream") for b in bodies]
    result = run_client("fastric", "echo.handler", invocations, cwd=HANDLERS_DIR, faults=faults, timeout_s=60)
    posts = result.posts
    assert [p.endpoint for p in posts] == ["response"] * len(bodies), result.describe()
    for post, body in zip(posts, bodies, strict=True):
        assert len(post.body) == len(body)
        assert post.body == body
