"""Add an executable to a built wheel as ``<name>-<version>.data/scripts/<file>`` (pip installs it
next to the interpreter, mode 0755) and record it in ``RECORD``; the wheel is rewritten in place.

Usage: ``python scripts/add-wheel-script.py WHEEL EXECUTABLE``. Used by scripts/build-wheels.sh for
the native ``fastric-rie`` (rust/rie_bin): maturin puts only the extension module in a pyo3 wheel.
A console script of the same name in ``entry_points.txt`` (pyproject's ``[project.scripts]``, the
in-process emulator that a wheel built from the sdist keeps) is dropped: the executable replaces it.
Exit status 2 on bad arguments, 1 when the wheel has no ``.dist-info/RECORD``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import zipfile


def record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}\n"


def add_script(wheel: str, executable: str) -> str:
    """Rewrite ``wheel`` with ``executable`` added as a data script; returns the path inside the wheel."""
    with zipfile.ZipFile(wheel) as zin:
        infos = zin.infolist()
        contents = {info.filename: zin.read(info) for info in infos}
    record = next((n for n in contents if n.endswith(".dist-info/RECORD") and n.count("/") == 1), None)
    if record is None:
        raise SystemExit(f"add-wheel-script: {wheel} has no .dist-info/RECORD")
    data_dir = record.split("/", 1)[0].removesuffix(".dist-info") + ".data"
    target = f"{data_dir}/scripts/{os.path.basename(executable)}"
    with open(executable, "rb") as f:
        script = f.read()
    name = os.path.basename(executable)
    entry_points = record.removesuffix("RECORD") + "entry_points.txt"
    replaced = {target}
    if entry_points in contents:
        kept = [
            line
            for line in contents[entry_points].decode().splitlines(keepends=True)
            if line.split("=", 1)[0].strip() != name
        ]
        contents[entry_points] = "".join(kept).encode()
        replaced.add(entry_points)
    lines = [
        line
        for line in contents[record].decode().splitlines(keepends=True)
        if line.split(",", 1)[0] not in replaced
    ]
    if entry_points in contents:
        lines.insert(len(lines) - 1, record_line(entry_points, contents[entry_points]))
    lines.insert(len(lines) - 1, record_line(target, script))  # RECORD's own line stays last
    tmp = wheel + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            if info.filename == target:
                continue
            if info.filename == record:
                zout.writestr(info, "".join(lines))
            else:
                zout.writestr(info, contents[info.filename])
        entry = zipfile.ZipInfo(target, date_time=infos[0].date_time)
        entry.external_attr = 0o100755 << 16
        entry.compress_type = zipfile.ZIP_DEFLATED
        zout.writestr(entry, script)
    os.replace(tmp, wheel)
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip().splitlines()[2])
    print(f"add-wheel-script: {add_script(sys.argv[1], sys.argv[2])} added to {sys.argv[1]}")
