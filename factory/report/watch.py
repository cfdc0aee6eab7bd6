"""`factory status RUN_DIR --watch`: the status redrawn every few seconds while a run is going.

Each redraw is `factory.report.status` read afresh from the run's files, plus what changed since the
last one: samples journaled, samples judged and completion tokens per second, and an ETA from the
samples the run expects (with `teacher.until`, from its ceiling, so an upper bound). On a terminal the
block is redrawn in place; otherwise (a pipe, a log file) the blocks follow each other, each headed by
its time.

The watch stops by itself when the run's latest session has logged its finish (`sessions.jsonl`), or
when the run is not going at all: its last session never finished and no process holds the run
directory's lock (a crash or a kill; read from /proc/locks where there is one). `--follow` keeps
watching through both, e.g. for a run that will be resumed. Ctrl-C stops it quietly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from factory.errors import FactoryError, RunDirError
from factory.report.runstate import run_state
from factory.report.status import collect, render

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen


@dataclass
class _Seen:
    at: float
    samples: int
    judged: int
    tokens: int


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def progress(status: dict, last: _Seen | None, first: _Seen | None, now: float) -> list[str]:
    """The rates since the last redraw, and the ETA from the rate since samples began to arrive."""
    gen = status["generate"]
    samples, judged, tokens = gen["journaled"], status["verify"]["judged"], status["cost"]["completion_tokens"]
    lines = []
    if last is not None and now > last.at:
        dt = now - last.at
        lines.append(f"  rate      samples/s={(samples - last.samples) / dt:.1f}  "
                     f"judged/s={(judged - last.judged) / dt:.1f}  tokens/s={(tokens - last.tokens) / dt:.0f}  "
                     f"(tokens: completion; over the last {dt:.1f}s)")
    expected = gen.get("expected", gen.get("at_most"))
    if expected is not None:
        left = max(expected - samples, 0)
        rate = (samples - first.samples) / (now - first.at) if first is not None and now > first.at else 0
        bound = "at most " if "at_most" in gen else ""
        if left == 0:
            eta = f"all {expected} expected samples are journaled; {max(samples - judged, 0)} left to judge"
        elif rate > 0:
            eta = f"{bound}{_duration(left / rate)} for {left} samples left of {expected}"
        else:
            eta = f"unknown yet ({left} samples left of {expected}, none journaled since the watch began)"
        lines.append(f"  eta       {eta}")
    return lines


def watch(run_dir: Path, *, interval: float = 2.0, follow: bool = False, tty: bool = False,
          echo: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> str:
    """Redraw the status of `run_dir` every `interval` seconds until the run ends (or, with `follow`, until
    Ctrl-C); returns why it stopped: `finished`, `stopped` or `interrupted`."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{str(run_dir)!r} is a file; pass the --out of a `factory run`")
    first = last = None
    try:
        while True:
            now = clock()
            state = run_state(run_dir)
            stamp = time.strftime("%H:%M:%S")
            head = f"{stamp}  watching {run_dir} every {interval:g}s ({state}; Ctrl-C stops)"
            try:
                if not run_dir.exists():  # a watch started before its run
                    raise RunDirError(f"no directory {str(run_dir)!r} yet: waiting for a `factory run --out` there")
                status = collect(run_dir)
            except (FactoryError, OSError, ValueError) as e:  # not written yet, or caught mid-write: next time
                body = [f"  waiting for the run to write its files ({str(e).splitlines()[0]})"]
            else:
                seen = _Seen(now, status["generate"]["journaled"], status["verify"]["judged"],
                             status["cost"]["completion_tokens"])
                # the ETA's rate counts from the last redraw before samples began to arrive (not from a
                # start-up that journals nothing)
                if first is None or first.samples == seen.samples:
                    first = seen
                body = [render(status), *progress(status, last, first, now)]
                last = seen
            block = "\n".join([head, *body])
            echo(CLEAR + block if tty else block + "\n")
            if not follow and state in ("finished", "stopped"):
                echo("run finished" if state == "finished" else
                     "the run is not going: its last session did not finish (crashed or killed) and nothing holds "
                     "its lock; run the same `factory run` again to resume it")
                return state
            sleep(interval)
    except KeyboardInterrupt:
        return "interrupted"
