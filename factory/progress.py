"""Progress for long stages: rate, tokens/s, outcomes by class, ETA and cost.

On a terminal it is one line redrawn in place; elsewhere (CI, a log file) a plain line every few
seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections import Counter


def log(line: str) -> None:
    """A status line for the person watching: on stderr, so stdout stays for results."""
    print(line, file=sys.stderr, flush=True)


def request_cost(record: dict, prices: dict) -> float:
    """Dollars for one journaled sample at its endpoint's token prices (GPU-hour prices are per run)."""
    from factory.cost import token_usd

    return token_usd(prices.get(record.get("endpoint")), record.get("prompt_tokens"), record.get("completion_tokens"))


class Progress:
    def __init__(self, stage: str, total: int, every_s: float = 5.0, stream=None, prices: dict | None = None):
        self.stage, self.total, self.every_s = stage, total, every_s
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.prices = prices or {}
        self.done = 0
        self.tokens = 0
        self.cost = 0.0
        self.last_error: str | None = None
        self.complete = 0
        self.complete_bare = 0  # complete samples with no reasoning at all
        self.by: Counter = Counter()
        self.started = self._last = time.monotonic()

    def add(self, items: list) -> None:
        """Count finished items: journal records (dicts) or bare outcome/reason strings."""
        for item in items:
            if isinstance(item, dict):
                self.by[item["outcome"]] += 1
                if item["outcome"] == "complete":
                    self.complete += 1
                    self.complete_bare += item.get("reasoning_source") == "none"
                self.tokens += item.get("completion_tokens") or 0
                self.cost += request_cost(item, self.prices)
                self.last_error = item.get("error") or self.last_error
            else:
                self.by[item] += 1
        self.done += len(items)
        now = time.monotonic()
        if now - self._last >= (0.5 if self.live else self.every_s):
            self._last = now
            self.line()

    def line(self, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 and not final else 0.0
        parts = [f"[{self.stage}] {self.done}/{self.total}", f"{rate:.1f}/s"]
        if self.tokens:
            parts.append(f"{self.tokens / elapsed:,.0f} tok/s")
        parts.append(", ".join(f"{k} {v}" for k, v in sorted(self.by.items())))
        if self.cost:
            parts.append(f"${self.cost:,.4f}")
        parts.append(f"in {elapsed:.1f}s" if final else f"ETA {eta:.0f}s")
        text = "  ".join(p for p in parts if p)
        if self.live and not final:
            print("\r\033[K" + text, end="", file=self.stream, flush=True)
        else:
            print(("\r\033[K" if self.live else "") + text, file=self.stream, flush=True)
