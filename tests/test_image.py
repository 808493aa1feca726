"""The container image and the layer, built and run for real with podman (make test-image).

AWS's base images cannot be pulled here, so the repository's ``Dockerfile`` is built on stand-ins made
from a debootstrap root filesystem (``scripts/standin-rootfs.sh``, cached in ``~/.cache/fastric``):
``docker/standin/lambda-python.Containerfile`` reproduces what the Lambda Python image provides and the
Dockerfile relies on (Debian 12's CPython 3.11 at ``/var/lang/bin``), ``provided.Containerfile`` an
OS-only ``provided.al2023``-like image. The wheel is the cp311 one built in this run, supplied with
``--build-context wheels=DIR`` instead of the Dockerfile's Rust build stage.

- image, no Runtime API: ``podman run -p 127.0.0.1:PORT:8080`` and fastric-rie in the container answers
  invokes from this host (success, function error, timeout and the re-init after it);
- image, ``AWS_LAMBDA_RUNTIME_API`` set: fastric serves this test's recording Runtime API directly;
- a function image ``FROM`` it with ``COPY app.py`` + ``CMD ["app.handler"]`` (all of the above use it);
- the layer unzipped into ``/opt`` of the provided stand-in, with the function's own interpreter at
  ``/var/task/bin/python3`` (docs/DEPLOY.md, custom runtime): ``/opt/bootstrap``;
- the layer on the Python stand-in with ``AWS_LAMBDA_EXEC_WRAPPER=/opt/fastric-exec-wrapper``: the
  managed runtime's start script runs fastric, and without the wrapper it does not.

Containers use host networking to reach the fake Runtime API on 127.0.0.1. Skips only when podman is
not installed (``scripts/install-podman.sh``, run by make test-image, installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_support import PYTHON_VERSION, build_images, expected, podman
from packaging_support import PODMAN_ENV, Emulator, built_wheel
from support.runtime_api_fake import FakeRuntimeAPI, Invocation, run_runtime

LABEL = f"fastric-test={uuid.uuid4().hex[:12]}"
TAG = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Stand-in bases, the fastric image, the function image and the two layer images, by name."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: scripts/install-podman.sh (make test-image runs it)")
    os.environ.update(PODMAN_ENV)
    wheel = built_wheel(tag="cp" + PYTHON_VERSION.replace(".", ""))
    out = build_images(wheel, tmp_path_factory.mktemp("image"), TAG)
    yield out
    ids = podman("ps", "-aq", "--filter", f"label={LABEL}", check=False).stdout.split()
    if ids:
        podman("rm", "-f", *ids, check=False)
    podman("rmi", "-f", *[v for k, v in out.items()], check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_image_without_runtime_api_runs_fastric_rie(images: dict[str, str], tmp_path: Path) -> None:
    """``podman run -p 127.0.0.1:PORT:8080``: the entry script starts fastric-rie, reachable from here."""
    port = free_port()
    command = ["podman", "run", "--rm", "--label", LABEL, "-p", f"127.0.0.1:{port}:8080"]
    command += ["-e", "AWS_LAMBDA_FUNCTION_TIMEOUT=1", images["function"]]
    with Emulator(command, [], {"PATH": os.environ["PATH"], **PODMAN_ENV}, tmp_path, options=[]) as rie:
        assert (rie.host, rie.port) == ("0.0.0.0", 8080)  # inside the container
        rie.host, rie.port = "127.0.0.1", port
        status, headers, body = rie.invoke(b'{"n": 1}')
        assert (status, headers.get("x-amz-function-error"), body) == (200, None, expected({"n": 1}))
        status, headers, body = rie.invoke(b'{"fail": true}')
        assert (status, headers.get("x-amz-function-error")) == (200, "Unhandled")
        assert json.loads(body) == {
            "errorMessage": "failed on purpose",
            "errorType": "ValueError",
            "requestId": headers["x-amzn-requestid"],
            "stackTrace": [
                '  File "/var/task/app.py", line 8, in handler\n    raise ValueError("failed on purpose")\n'
            ],
        }
        status, headers, body = rie.invoke(b'{"sleep": 30}')
        rid = headers["x-amzn-requestid"]
        assert (status, headers.get("x-amz-function-error"), body) == (
            200,
            "Unhandled",
            b'{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: %s Error: Task timed out after 1.00 seconds"}'
            % rid.encode(),
        )
        # the emulator started a new runtime after the timeout, in the same container
        assert rie.invoke(b'{"n": 2}')[::2] == (200, expected({"n": 2}))


def _serve(api: FakeRuntimeAPI, tmp_path: Path, *podman_args: str) -> object:
    """Run a container on the host network with ``AWS_LAMBDA_RUNTIME_API`` pointing at ``api``."""
    command = ["podman", "run", "--rm", "--label", LABEL, "--network", "host"]
    command += ["-e", f"AWS_LAMBDA_RUNTIME_API={api.address}", *podman_args]
    return run_runtime(command, api, env=PODMAN_ENV, cwd=str(tmp_path), timeout_s=120)


def _responses(result: object) -> list[tuple[str, bytes]]:
    return [(r.endpoint, r.body) for r in result.requests if r.endpoint != "next"]


def test_image_with_runtime_api_serves_it_directly(images: dict[str, str], tmp_path: Path) -> None:
    """``AWS_LAMBDA_RUNTIME_API`` set: ``python -m fastric app.handler`` talks to it, no emulator."""
    with FakeRuntimeAPI([Invocation(body=b'{"k": "v"}'), Invocation(body=b'{"fail": 1}')]) as api:
        result = _serve(api, tmp_path, images["function"])
    assert [(r.endpoint, r.request_id) for r in result.requests][:4] == [
        ("next", None),
        ("response", "11111111-1111-4111-8111-000000000001"),
        ("next", None),
        ("error", "11111111-1111-4111-8111-000000000002"),
    ], result.describe()
    assert result.requests[1].body == expected({"k": "v"})
    assert json.loads(result.requests[3].body)["errorType"] == "ValueError"


def test_layer_on_provided_standin_bootstrap(images: dict[str, str], tmp_path: Path) -> None:
    """provided.al2023-like: /opt/bootstrap picks the function's /var/task/bin/python3."""
    with FakeRuntimeAPI([Invocation(body=b'{"l": [1]}')]) as api:
        result = _serve(
            api,
            tmp_path,
            "-e",
            "_HANDLER=app.handler",
            "--entrypoint",
            "/opt/bootstrap",
            images["layer-provided"],
        )
    assert _responses(result) == [("response", expected({"l": [1]}, python="/var/task/bin/python3"))], (
        result.describe()
    )


def test_layer_exec_wrapper_on_python_standin(images: dict[str, str], tmp_path: Path) -> None:
    """Managed-runtime-like: the start script runs the client through AWS_LAMBDA_EXEC_WRAPPER."""
    wrapper = ["-e", "AWS_LAMBDA_EXEC_WRAPPER=/opt/fastric-exec-wrapper"]
    with FakeRuntimeAPI([Invocation(body=b'{"w": 1}')]) as api:
        result = _serve(api, tmp_path, *wrapper, images["layer-lambda-python"], "app.handler")
    assert _responses(result) == [("response", expected({"w": 1}))], result.describe()
    # Control: without the wrapper the stand-in's start script has no client and exits.
    with FakeRuntimeAPI([Invocation(body=b'{"w": 1}')]) as api:
        result = _serve(api, tmp_path, images["layer-lambda-python"], "app.handler")
    assert (result.requests, result.returncode) == ([], 1), result.describe()
