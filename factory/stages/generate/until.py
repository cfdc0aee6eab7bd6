"""Sampling until enough (`teacher.until`): how many samples each problem should have after the next round.

A round's plan is derived only from the run directory: the journal says which sample indexes of a
problem are stored, the verdicts how many of its traces are accepted. There is no round counter or
state file that could disagree with them, so a run killed between or inside rounds plans again from
what it holds, and the deterministic sample ids mean nothing journaled is asked twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from factory.config import PipelineConfig
from factory.stages.generate.identity import sample_id
from factory.store.journal import ledger
from factory.store.records import asked_statuses
from factory.teacher.client import AskSettings

# how many samples' worth of weight the run's pooled acceptance rate gets in a problem's own estimate
PRIOR_SAMPLES = 2


@dataclass
class RoundPlan:
    """What the next round asks, and where the problems stand before it."""

    counts: dict[str, int] = field(default_factory=dict)  # problems still short -> samples to have after it
    done: int = 0  # problems with enough accepted traces
    capped: int = 0  # problems that reached max_n short of them
    stored: int = 0  # sample indexes stored for the problems, below max_n
    new: int = 0  # samples this round asks (holes a crash left included)

    def line(self, round_: int, accepted: int, max_n: int) -> str:
        if not self.counts:
            return (f"[until] done after {round_ - 1} round(s) of this session: {self.done} problems have "
                    f"{accepted} accepted traces, {self.capped} stopped at max_n {max_n} short of them; "
                    f"{self.stored} samples stored")
        return (f"[until] round {round_}: {self.done} problems have {accepted} accepted, {self.capped} stopped at "
                f"max_n {max_n}, {len(self.counts)} short: asking {self.new} more samples")


def stored_indexes(problem_ids: list[str], settings: AskSettings, run_dir: Path,
                   max_n: int) -> dict[str, tuple[int, int]]:
    """problem_id -> (one past its highest sample index below `max_n` in the journal, how many below it are).

    The two differ by the holes a crash left (requests in flight that were never journaled); a round
    asks those again, as a plain run does.
    """
    stored = ledger(run_dir)
    out = {}
    for pid in problem_ids:
        width = count = 0
        for index in range(max_n):
            if sample_id(pid, index, settings.model, settings.prompt_template_hash, settings.sampling) in stored:
                width, count = index + 1, count + 1
        out[pid] = (width, count)
    return out


def _target(width: int, stored: int, accepted: int, cfg: PipelineConfig, pooled: float) -> int | None:
    """Samples a short problem should have after the next round; None when it is finished.

    The first round is `teacher.n`. After it, ask for the missing traces divided by the rate this
    problem is expected to accept at: its own accepted/asked, shrunk toward the run's pooled rate by
    PRIOR_SAMPLES (two misses alone would say 0 %, the pool alone would ignore that a problem is hard),
    so a round asks what is expected to suffice rather than a worst case; at least one, at most max_n.
    """
    until = cfg.teacher.until
    if accepted >= until.accepted or stored >= until.max_n:
        return None
    if width < cfg.teacher.n:
        return cfg.teacher.n
    rate = (accepted + PRIOR_SAMPLES * pooled) / (stored + PRIOR_SAMPLES)
    more = math.ceil((until.accepted - accepted) / max(rate, 1 / until.max_n))
    return min(until.max_n, width + max(1, more))


def plan_round(cfg: PipelineConfig, problems: pa.Table, settings: AskSettings, run_dir: Path,
               accepted: dict[str, int]) -> RoundPlan:
    """The next round of `teacher.until` for the problems the teacher is asked about (`ok`, and `no_reference`
    under a majority vote, whose samples are accepted against the label), from the journal and `accepted`
    (problem_id -> accepted traces, from verdicts covering every journaled reply)."""
    statuses = pa.array(asked_statuses(cfg.verify.majority_vote.enabled), pa.string())
    ids = problems.filter(pc.is_in(problems["status"], statuses))["problem_id"].to_pylist()
    indexes = stored_indexes(ids, settings, run_dir, cfg.teacher.until.max_n)
    asked = sum(count for _, count in indexes.values())
    pooled = min(1.0, sum(accepted.get(p, 0) for p in ids) / asked) if asked else 0.0
    plan = RoundPlan(stored=asked)
    for pid in ids:
        target = _target(*indexes[pid], accepted.get(pid, 0), cfg, pooled)
        if target is not None:
            plan.counts[pid] = target
            plan.new += target - indexes[pid][1]
        elif accepted.get(pid, 0) >= cfg.teacher.until.accepted:
            plan.done += 1
        else:
            plan.capped += 1
    return plan
