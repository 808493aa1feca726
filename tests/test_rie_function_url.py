"""fastric-rie's local Function URL (``--function-url-address``, ``--invoke-mode``): plain HTTP in, the
payload format 2.0 event to the handler, the result mapped back as Function URLs map it; in
``RESPONSE_STREAM`` mode the chunks reach the client while the handler is still running (ordered by a
file the test writes after reading the first chunk)."""

from __future__ import annotations

import base64
import http.client
import json
import re
import sys

import pytest
from conftest import HANDLERS_DIR
from test_rie_fixtures import rie_factory  # noqa: F401

FUNCTION_URL = re.compile(r"\[fastric-rie\] function-url: http://(\S+)/ invoke-mode=(\S+)")


@pytest.fixture
def url(rie_factory):  # noqa: F811
    def start(handler: str, mode: str = "BUFFERED") -> tuple[str, int]:
        rie = rie_factory(
            [
                "--function-url-address",
                "127.0.0.1:0",
                "--invoke-mode",
                mode,
                sys.executable,
                "-m",
                "fastric",
                handler,
            ],
            cwd=HANDLERS_DIR,
        )
        match = next(FUNCTION_URL.search(line) for line in rie.stderr if FUNCTION_URL.search(line))
        assert match.group(2) == mode
        host, port = match.group(1).rsplit(":", 1)
        return host, int(port)

    return start


def request(address, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*address, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    return conn, conn.getresponse()


def test_buffered_event_and_result_mapping(url) -> None:
    address = url("streaming_app.url_echo")
    conn, resp = request(
        address,
        "POST",
        "/chat/x?a=1&b=two%20words&a=3",
        body=b'{"q": 1}',
        headers={"Content-Type": "application/json", "Cookie": "s=1; t=2", "X-Multi": "v"},
    )
    body = resp.read()
    assert resp.status == 201
    assert resp.getheader("x-path") == "/chat/x"
    assert resp.headers.get_all("Set-Cookie") == ["c1=1", "c2=2; Secure"]
    event = json.loads(body)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/chat/x"
    assert event["rawQueryString"] == "a=1&b=two%20words&a=3"
    assert event["queryStringParameters"] == {"a": "1,3", "b": "two words"}
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-multi"] == "v"
    assert "cookie" not in event["headers"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["path"] == "/chat/x"
    assert event["requestContext"]["http"]["protocol"] == "HTTP/1.1"
    assert event["body"] == '{"q": 1}' and event["isBase64Encoded"] is False
    conn.close()
    # A binary request body arrives base64-encoded.
    conn, resp = request(
        address, "PUT", "/bin", body=b"\x00\xff", headers={"Content-Type": "application/octet-stream"}
    )
    event = json.loads(resp.read())
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff"
    assert event["requestContext"]["http"]["method"] == "PUT"
    assert "queryStringParameters" not in event and "cookies" not in event
    conn.close()


def test_buffered_base64_bodies_and_plain_results(url) -> None:
    conn, resp = request(url("streaming_app.url_binary"), "GET", "/img")
    assert resp.status == 200 and resp.getheader("Content-Type") == "image/png"
    assert resp.read() == b"\x89PNG\x00\xff"
    conn.close()
    conn, resp = request(url("streaming_app.url_text"), "GET", "/")
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/json"
    assert resp.read() == b"plain text"
    conn.close()


def test_buffered_function_error_is_a_502(url) -> None:
    conn, resp = request(url("streaming_app.raising_handler"), "GET", "/")
    assert resp.status == 502
    assert resp.read() == b"Internal Server Error"
    conn.close()


def test_streamed_chunks_reach_the_client_while_the_handler_runs(url, tmp_path) -> None:
    gate = tmp_path / "gate"
    address = url("streaming_app.url_stream", "RESPONSE_STREAM")
    conn, resp = request(
        address, "POST", "/chat", body=json.dumps({"mode": "gated", "path": str(gate)}).encode()
    )
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/plain"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.read1(65536) == b"first"  # one chunk, while the handler waits on the gate file
    gate.write_bytes(b"go")
    assert resp.read() == b"second"
    conn.close()


def test_streamed_http_integration_response(url) -> None:
    address = url("streaming_app.url_stream", "RESPONSE_STREAM")
    conn, resp = request(address, "POST", "/page", body=b'{"mode": "http"}')
    assert resp.status == 201
    assert resp.getheader("Content-Type") == "text/html"
    assert resp.getheader("X-Mode") == "http"
    assert resp.headers.get_all("Set-Cookie") == ["a=1; Path=/"]
    assert resp.read() == b"<p>hi</p>"
    conn.close()


def test_buffered_handlers_work_in_stream_mode(url) -> None:
    conn, resp = request(url("streaming_app.url_echo", "RESPONSE_STREAM"), "GET", "/q?x=1")
    assert resp.status == 201
    assert json.loads(resp.read())["rawQueryString"] == "x=1"
    conn.close()
