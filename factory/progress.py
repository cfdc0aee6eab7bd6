"""Plain progress lines for long stages: rate, counts by outcome, ETA. One line every few seconds."""

from __future__ import annotations

import sys
import time
from collections import Counter


def log(line: str) -> None:
    """A status line for the person watching: on stderr, so stdout stays for results."""
    print(line, file=sys.stderr, flush=True)


class Progress:
    def __init__(self, stage: str, total: int, every_s: float = 5.0, stream=None):
        self.stage, self.total, self.every_s = stage, total, every_s
        self.stream = stream or sys.stderr
        self.done = 0
        self.by: Counter = Counter()
        self.started = self._last = time.monotonic()

    def add(self, outcomes: list[str]) -> None:
        self.done += len(outcomes)
        self.by.update(outcomes)
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.line()

    def line(self, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 and not final else 0.0
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.by.items()))
        tail = f"in {elapsed:.1f}s" if final else f"ETA {eta:.0f}s"
        print(f"[{self.stage}] {self.done}/{self.total} ({rate:.1f}/s) {counts} {tail}".rstrip(),
              file=self.stream, flush=True)
