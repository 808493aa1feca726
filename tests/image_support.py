"""Builds the images of the podman tests (tests/test_image.py) and measurements (scripts/measure-image.py).

:func:`build_images` makes, from a debootstrap root filesystem (``scripts/standin-rootfs.sh``), the
stand-in bases in ``docker/standin/``, the repository's ``Dockerfile`` on the Python stand-in with the
given wheel (``--build-context wheels=DIR``), a function image ``FROM`` it (``COPY app.py`` + ``CMD``)
and the layer unzipped into ``/opt`` of both stand-ins. Callers set :data:`PODMAN_ENV` first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from packaging_support import ROOT, extract_with_modes

PYTHON_VERSION = "3.11"  # Debian 12's CPython, the stand-in's interpreter
ROOTFS = ("bookworm", f"python{PYTHON_VERSION},python{PYTHON_VERSION}-venv,python3-distutils")
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

APP = """\
import os
import sys
import time


def handler(event, context):
    if event.get("fail"):
        raise ValueError("failed on purpose")
    time.sleep(event.get("sleep", 0))
    return {
        "echo": event,
        "client": "fastric" if "fastric" in sys.modules else "other",
        "python": sys.executable,
        "cwd": os.getcwd(),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "handler": os.environ.get("_HANDLER"),
    }
"""


def expected(event: object, python: str = f"/var/lang/bin/python{PYTHON_VERSION}") -> bytes:
    """The exact answer of APP for ``event`` run by fastric in /var/task."""
    facts = {"client": "fastric", "python": python, "cwd": "/var/task", "task_root": "/var/task"}
    return json.dumps({"echo": event, **facts, "handler": "app.handler"}).encode()


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=600)
    assert not check or proc.returncode == 0, f"podman {' '.join(args)}:\n{proc.stdout}{proc.stderr}"
    return proc


def build(tag: str, name: str, context: Path, *args: str) -> str:
    """``podman build`` (host network; this machine's trust store mounted for pip) -> the image name."""
    image = f"localhost/fastric-test-{name}:{tag}"
    ca = ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"] if os.path.exists(CA_BUNDLE) else []
    podman("build", "-q", "--network", "host", *ca, "-t", image, *args, str(context))
    return image


def build_images(wheel: Path, work: Path, tag: str) -> dict[str, str]:
    """All images, by role: ``lambda-python`` and ``provided`` (stand-ins), ``fastric`` (the Dockerfile),
    ``function`` (FROM fastric), ``layer-provided`` and ``layer-lambda-python``. ``wheel`` is a cp311
    x86_64 wheel; ``work`` an empty directory for the build contexts; ``tag`` the images' tag.
    Raises AssertionError with podman's output when a build fails."""
    rootfs = subprocess.run(
        [str(ROOT / "scripts/standin-rootfs.sh"), *ROOTFS], capture_output=True, text=True, check=False
    )
    assert rootfs.returncode == 0, rootfs.stderr
    standin = ROOT / "docker/standin"
    base_args = [
        "--build-arg",
        f"ROOTFS={rootfs.stdout.split()[-1]}",
        "--build-arg",
        f"PYTHON_VERSION={PYTHON_VERSION}",
    ]
    out = {
        "lambda-python": build(
            tag, "standin-python", standin, *base_args, "-f", str(standin / "lambda-python.Containerfile")
        ),
        "provided": build(
            tag, "standin-provided", standin, *base_args, "-f", str(standin / "provided.Containerfile")
        ),
    }
    wheels = work / "wheels"
    wheels.mkdir()
    shutil.copy(wheel, wheels)
    out["fastric"] = build(
        tag,
        "fastric",
        ROOT,
        "--build-arg",
        f"BASE_IMAGE={out['lambda-python']}",
        "--build-arg",
        f"PYTHON_VERSION={PYTHON_VERSION}",
        "--build-context",
        f"wheels={wheels}",
    )
    function = work / "function"
    function.mkdir()
    (function / "app.py").write_text(APP)
    (function / "Containerfile").write_text(
        f'FROM {out["fastric"]}\nCOPY app.py ${{LAMBDA_TASK_ROOT}}/\nCMD ["app.handler"]\n'
    )
    out["function"] = build(tag, "function", function)
    # The layer, unzipped into /opt as Lambda does, on both stand-ins.
    layer_zip = work / "layer.zip"
    subprocess.run(
        [str(ROOT / "scripts/build-layer.sh"), "--dist", str(wheels), "--out", str(layer_zip)],
        check=True,
        capture_output=True,
    )
    extract_with_modes(layer_zip, function / "opt")
    for name in ("provided", "lambda-python"):
        (function / f"Containerfile.{name}").write_text(
            f"FROM {out[name]}\nCOPY opt/ /opt/\nCOPY app.py /var/task/\n"
        )
        out[f"layer-{name}"] = build(
            tag, f"layer-{name}", function, "-f", str(function / f"Containerfile.{name}")
        )
    return out
