"""docs/TESTING.md's table of known differences names every key of KNOWN_DIFFERENCES, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from support.compare import KNOWN_DIFFERENCES

TESTING_MD = Path(__file__).resolve().parent.parent / "docs" / "TESTING.md"


def test_testing_md_lists_every_known_difference() -> None:
    text = TESTING_MD.read_text(encoding="utf-8")
    section = text.split("## Known differences", 1)[1].split("\n## ", 1)[0]
    keys = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE))
    assert keys == set(KNOWN_DIFFERENCES)
