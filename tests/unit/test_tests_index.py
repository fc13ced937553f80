"""tests/README.md, the index of what each test file covers, names every test file there
is and none that is gone: a newcomer finds the test of a module or promise there."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_file_is_in_the_index_and_every_name_there_exists() -> None:
    index = (TESTS / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:unit|integration|e2e)/test_\w+\.py)`", index))
    present = {p.relative_to(TESTS).as_posix() for p in TESTS.rglob("test_*.py")}
    assert sorted(present - named) == [], "test files missing from tests/README.md"
    assert sorted(named - present) == [], "tests/README.md names files that do not exist"
