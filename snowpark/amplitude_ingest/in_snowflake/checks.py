"""A check's verdict: the row shape `CALL amplitude_doctor()` returns, one per check.

Its own module so that every module with checks of its own (the doctor, alerts) builds
the same rows without importing the doctor, and the doctor can gather them all.
"""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class CheckResult:
    check_name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f"\n    fix: {self.fix}" if self.fix else ""
        return f"[{self.status.upper()}] {self.check_name}: {self.detail}{fix}"
