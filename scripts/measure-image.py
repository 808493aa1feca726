#!/usr/bin/env python3
"""Sizes and start-up of the container-image form against the zip/layer form (docs/DEPLOY.md).

Measured on the podman stand-ins of tests/image_support.py (debootstrap Debian 12, CPython 3.11), not
on AWS's images or on Lambda. Needs podman (scripts/install-podman.sh) and the cp311 wheel in dist/
(make install).

Usage: .venv/bin/python scripts/measure-image.py [--runs N]      (default 15 rounds)

Sizes: what the fastric image adds to its base (podman's image sizes), the function image's addition,
the wheel, the layer zip and the layer unzipped.
Start-up, "spawn -> first /next": from the moment this script starts the command to the first byte of
the runtime's first ``GET /next`` at a fake Runtime API on 127.0.0.1 (host networking for the
containers). Forms, interleaved in every round so that they share the machine's state:
  image, in container    podman run of the function image (entry script -> python -m fastric)
  image form, outside    the same wheel's python -m fastric on this host (.venv, CPython 3.11)
  layer, in container    the layer in /opt of the provided stand-in, /opt/bootstrap
  layer, outside         the layer unzipped here, its bootstrap with this host's CPython 3.11
and, for scale, a podman run of /bin/echo in the function image (spawn -> its output: the container's
own start-up, no Python).
Prints a Markdown table (median and p90 in ms) to stdout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from image_support import build_images, podman  # noqa: E402
from packaging_support import PODMAN_ENV, base_python, built_wheel, extract_with_modes  # noqa: E402
from support.runtime_api_fake import FakeRuntimeAPI, build_env  # noqa: E402


def spawn_to_next(command: list[str], cwd: Path, env: dict[str, str], name: str | None) -> float:
    """Milliseconds from starting ``command`` to the first ``/next`` it sends to a fresh fake API."""
    with FakeRuntimeAPI([]) as api:
        argv = [part.replace("@API@", api.address) for part in command]
        full_env = build_env(api.address, str(cwd), env)
        start = time.monotonic()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            while not api.snapshot():
                if proc.poll() is not None:
                    raise SystemExit(f"{argv} exited with {proc.returncode} before /next")
                time.sleep(0.0005)
            first = api.snapshot()[0].t_start
        finally:
            if name is not None:
                podman("rm", "-f", "-t", "0", name, check=False)
            proc.kill()
            proc.wait()
    return (first - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    os.environ.update(PODMAN_ENV)
    wheel = built_wheel(tag="cp311")
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        images = build_images(wheel, work, tag)
        try:
            measure(images, wheel, work, args.runs)
        finally:
            podman("rmi", "-f", *images.values(), check=False)


def measure(images: dict[str, str], wheel: Path, work: Path, runs: int) -> None:
    size = {k: int(podman("image", "inspect", "--format", "{{.Size}}", v).stdout) for k, v in images.items()}
    layer_zip = work / "layer.zip"
    layer = work / "layer-outside"
    extract_with_modes(layer_zip, layer)
    unzipped = sum(p.stat().st_size for p in layer.rglob("*") if p.is_file())
    function = work / "function"
    venv_python = str(ROOT / ".venv/bin/python")
    forms = {
        "image, in container": (["podman", "run", "--rm", "--network", "host", "--name", "@NAME@",
                                 "-e", "AWS_LAMBDA_RUNTIME_API=@API@", images["function"]], {}),
        "image form, outside (same wheel, .venv)": ([venv_python, "-m", "fastric", "app.handler"], {}),
        "layer, in container (/opt/bootstrap)": (["podman", "run", "--rm", "--network", "host", "--name", "@NAME@",
                                                  "-e", "AWS_LAMBDA_RUNTIME_API=@API@", "-e", "_HANDLER=app.handler",
                                                  "--entrypoint", "/opt/bootstrap", images["layer-provided"]], {}),
        "layer, outside (its bootstrap, host CPython 3.11)": (["sh", str(layer / "bootstrap")],
                                                              {"FASTRIC_PYTHON": base_python(), "_HANDLER": "app.handler"}),
    }  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in forms}
    container_alone = "podman run of /bin/echo in the function image, to its output (container start alone)"
    times[container_alone] = []
    for _ in range(runs):
        start = time.monotonic()
        argv = [
            "podman",
            "run",
            "--rm",
            "--network",
            "host",
            "--entrypoint",
            "/bin/echo",
            images["function"],
            "up",
        ]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
            times[container_alone].append((time.monotonic() - start) * 1000)
        for label, (command, env) in forms.items():
            name = f"fastric-measure-{uuid.uuid4().hex[:8]}" if command[0] == "podman" else None
            argv = [part.replace("@NAME@", name or "") for part in command]
            times[label].append(spawn_to_next(argv, function, {**PODMAN_ENV, **env}, name))
    print(
        f"Sizes (podman image sizes; stand-in base = Debian 12 + CPython 3.11 venv at /var/lang, {size['lambda-python']:,} B):\n"
    )
    print("| what | bytes |\n|---|---|")
    print(
        f"| the fastric image adds to its base (`pip install` of the wheel + entry script) | {size['fastric'] - size['lambda-python']:,} |"
    )
    print(f"| a function image FROM it adds (`COPY app.py`) | {size['function'] - size['fastric']:,} |")
    print(f"| the wheel (cp311 x86_64) | {wheel.stat().st_size:,} |")
    print(f"| the layer zip (one Python version) | {layer_zip.stat().st_size:,} |")
    print(f"| the layer unzipped into /opt (files) | {unzipped:,} |")
    print(
        f"| the layer image adds to the provided stand-in (`COPY opt/` + app.py) | {size['layer-provided'] - size['provided']:,} |"
    )
    print(f"\nStart-up, spawn -> first /next, {runs} interleaved rounds (ms):\n")
    print("| form | median | p90 |\n|---|---|---|")
    for label, values in times.items():
        values.sort()
        p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
        print(f"| {label} | {statistics.median(values):.1f} | {p90:.1f} |")


if __name__ == "__main__":
    main()
