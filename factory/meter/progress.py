"""Progress for long stages: rate, tokens/s, outcomes, errors by class, ETA and cost.

On a terminal (the stream's `isatty()`) it is one line redrawn in place at most every `redraw_s`;
elsewhere (CI, a log file) a plain line every `every_s` seconds, with no control characters, so logs
stay readable. Both end with a final line when the stage is done.

A line reads, for example:

    [generate] 40/120  8.0/s  9,600 tok/s (7,200 out)  complete 38, failed 2  errors: 429=3, timeout=1  $0.0130  ETA 10s

Outcomes count samples; errors count failed attempts (requests), by class (see `factory.teacher.failures`).
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from factory.meter.cost import gpu_usd, token_usd, widen
from factory.teacher.failures import ERROR_CLASSES as FAILURE_CLASSES
from factory.teacher.failures import legacy_class

# classes of failed attempts, in display order; `retried` is an earlier failed attempt of a sample
# whose journal record does not say what that failure was (only its final error is recorded)
ERROR_CLASSES = (*FAILURE_CLASSES, "retried")


def request_cost(record: dict, prices: dict) -> float:
    """Dollars for one journaled sample at its endpoint's token prices (GPU-hour prices are per run)."""
    return token_usd(prices.get(record.get("endpoint")), record.get("prompt_tokens"), record.get("completion_tokens"))


def attempt_errors(record: dict) -> Counter:
    """The failed attempts of one journal record, by class (see `factory.teacher.failures`).

    The client records each attempt's class as it fails (`attempt_classes`). Records of older journals
    lack it: their `attempt_errors` descriptions are classed by `legacy_class`, and records with no
    list at all (older still) have only their final `error` classed and every earlier attempt counted
    as `retried`.
    """
    classes = record.get("attempt_classes")
    if classes is not None:
        return Counter(classes)
    listed = record.get("attempt_errors")
    if listed is not None:
        return Counter(c for c in map(legacy_class, listed) if c)
    counts: Counter = Counter()
    if final := record.get("error_class") or legacy_class(record.get("error")):
        counts[final] += 1
    if (earlier := (record.get("attempts") or 1) - 1) > 0:
        counts["retried"] += earlier
    return counts


class Progress:
    """Counts finished items of one stage and prints the progress line.

    `prices` maps public endpoint URL -> PriceConfig. The cost shown is this stage's: token prices
    per record, plus for GPU-hour priced endpoints the hours from the first request sent to the last
    answer back (the records' started_at/finished_at), the way `factory.meter.cost` charges a session.
    """

    def __init__(self, stage: str, total: int, every_s: float = 5.0, stream=None, prices: dict | None = None,
                 redraw_s: float = 0.5, clock=time.monotonic):
        self.stage, self.total, self.every_s, self.redraw_s = stage, total, every_s, redraw_s
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.prices = prices or {}
        self.clock = clock
        self.done = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.token_cost = 0.0
        self.last_error: str | None = None
        self.complete = 0
        self.complete_bare = 0  # complete samples with no reasoning at all
        self.by: Counter = Counter()  # outcomes (or verify reasons), one per item
        self.errors: Counter = Counter()  # failed attempts by class
        self.spans: dict[str, list[float]] = {}  # endpoint -> [first started_at, last finished_at]
        self.started = self._last = clock()

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost(self) -> float:
        hours = {e: (b - a) / 3600 for e, (a, b) in self.spans.items()}
        return self.token_cost + sum(gpu_usd(self.prices.get(e), h) for e, h in hours.items())

    def add(self, items: list) -> None:
        """Count finished items: journal records (dicts) or bare outcome/reason strings."""
        for item in items:
            if isinstance(item, dict):
                self._add_record(item)
            else:
                self.by[item] += 1
        self.done += len(items)
        now = self.clock()
        if now - self._last >= (self.redraw_s if self.live else self.every_s):
            self._last = now
            self.line()

    def _add_record(self, record: dict) -> None:
        self.by[record["outcome"]] += 1
        if record["outcome"] == "complete":
            self.complete += 1
            self.complete_bare += record.get("reasoning_source") == "none"
        self.prompt_tokens += record.get("prompt_tokens") or 0
        self.completion_tokens += record.get("completion_tokens") or 0
        self.token_cost += request_cost(record, self.prices)
        self.errors.update(attempt_errors(record))
        self.last_error = record.get("error") or self.last_error
        endpoint, start, end = record.get("endpoint"), record.get("started_at"), record.get("finished_at")
        if endpoint is not None and start is not None and end is not None:
            widen(self.spans, endpoint, start, end)

    def text(self, final: bool = False) -> str:
        """The progress line, without terminal control characters."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 and not final else 0.0
        parts = [f"[{self.stage}] {self.done}/{self.total}", f"{rate:.1f}/s"]
        if self.tokens:
            # prompt + completion, what a tpm budget and most bills count; "out" is completion alone,
            # what the teacher generated (a self-hosted server's decode throughput)
            parts.append(f"{self.tokens / elapsed:,.0f} tok/s ({self.completion_tokens / elapsed:,.0f} out)")
        parts.append(", ".join(f"{k} {v}" for k, v in sorted(self.by.items())))
        if self.errors:
            order = {c: i for i, c in enumerate(ERROR_CLASSES)}
            parts.append("errors: " + ", ".join(f"{k}={v}" for k, v in
                                               sorted(self.errors.items(), key=lambda kv: order.get(kv[0], 99))))
        if cost := self.cost:
            parts.append(f"${cost:,.4f}")
        parts.append(f"in {elapsed:.1f}s" if final else f"ETA {eta:.0f}s")
        return "  ".join(p for p in parts if p)

    def line(self, final: bool = False) -> None:
        text = self.text(final)
        if self.live and not final:
            print("\r\033[K" + text, end="", file=self.stream, flush=True)
        else:
            print(("\r\033[K" if self.live else "") + text, file=self.stream, flush=True)
