"""What the teacher must still be asked: every missing sample, and the truncated ones a larger budget may finish.

The journal's ledger says what is stored; a sample is asked when it is not, when it failed and the user
asked for `--retry-failed`, or when it was cut and the token budget (or the re-ask policy) says so.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from factory.config import PipelineConfig
from factory.stages.generate.identity import render_messages, sample_id
from factory.store.journal import ledger
from factory.store.records import asked_statuses
from factory.teacher.client import AskSettings


def _budget(cfg: PipelineConfig, outcome: str | None, asked_with: int | None, tried: int | None = None) -> int | None:
    """The token budget to ask a stored truncated sample again with, or None to leave it.

    `asked_with`: the budget of the kept reply; `tried`: the largest any attempt asked with (a
    re-ask that failed leaves the kept reply as it was). A raised `max_tokens` re-asks every sample
    truncated under a smaller budget; the re-ask policy gives a sample cut in its answer (reasoning
    whole) one more try with `factor` times the budget, up to the cap, once. Nothing else that is
    stored is ever asked again.
    """
    budget = cfg.teacher.sampling.max_tokens
    if not (outcome or "").startswith("truncated") or asked_with is None:
        return None
    if asked_with < budget:
        return budget
    policy = cfg.teacher.truncation
    tried = max(tried or asked_with, asked_with)
    if policy.reask and outcome == "truncated_answer" and tried <= budget < policy.max_tokens_cap:
        return min(policy.max_tokens_cap, int(asked_with * policy.factor))
    return None


class Specs(Sequence):
    """The samples to ask, made into request dicts only when a slice of them is handed out.

    As dicts, 40k problems x 16 samples held about 210 MB on the driver for the whole run; this
    holds each problem's messages once and 4 bytes per sample (its index), and derives the sample
    id again when the spec is built.
    """

    def __init__(self, settings: AskSettings):
        self._settings = settings
        self._problems: list[tuple[str, list[dict], array, dict[int, int]]] = []
        self._starts = [0]  # _starts[k]: position of problem k's first sample; the last entry: the total
        self.reasks = 0  # samples stored already, asked again with a larger budget

    def add(self, problem_id: str, messages: list[dict], index: int, budget: int | None = None) -> None:
        """Add sample `index` of a problem (samples of one problem are added one after another)."""
        if not self._problems or self._problems[-1][0] != problem_id:
            self._problems.append((problem_id, messages, array("I"), {}))
            self._starts.append(self._starts[-1])
        _, _, indices, budgets = self._problems[-1]
        indices.append(index)
        if budget is not None:
            budgets[index] = budget
            self.reasks += 1
        self._starts[-1] += 1

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, at):
        if isinstance(at, slice):
            return [self._spec(k) for k in range(*at.indices(len(self)))]
        k = at + len(self) if at < 0 else at
        if not 0 <= k < len(self):
            raise IndexError(at)
        return self._spec(k)

    def _spec(self, k: int) -> dict:
        row = bisect.bisect_right(self._starts, k) - 1
        problem_id, messages, indices, budgets = self._problems[row]
        index = indices[k - self._starts[row]]
        s = self._settings
        spec = dict(sample_id=sample_id(problem_id, index, s.model, s.prompt_template_hash, s.sampling),
                    problem_id=problem_id, sample_index=index, messages=messages)
        if index in budgets:
            spec["max_tokens"] = budgets[index]
        return spec


def missing_specs(cfg: PipelineConfig, problems: pa.Table, settings: AskSettings, run_dir: Path,
                  retry_failed: bool = False, counts: dict[str, int] | None = None) -> tuple[Specs, int]:
    """Every sample of every asked problem (`ok`, and `no_reference` under a majority vote) to ask (again).

    That is: samples the journal does not hold; failed ones when `retry_failed`; truncated ones a
    larger budget may finish (see `_budget`). `counts`: problem id -> how many samples it should have
    (a round of `teacher.until`; problems left out are asked nothing); None: `teacher.n` of each.
    Returns the specs and how many stored samples failed and are left as they are.
    """
    stored = ledger(run_dir)
    ok = problems.filter(pc.is_in(problems["status"], pa.array(asked_statuses(cfg.verify.majority_vote.enabled))))
    specs, failed_kept = Specs(settings), 0
    for pid, text in zip(ok["problem_id"].to_pylist(), ok["problem"].to_pylist(), strict=True):
        messages = None
        for index in range(cfg.teacher.n if counts is None else counts.get(pid, 0)):
            sid = sample_id(pid, index, settings.model, settings.prompt_template_hash, settings.sampling)
            outcome, asked_with, tried, _ = stored.get(sid, (None, None, None, None))
            if outcome is None or (outcome == "failed" and retry_failed):
                budget = None
            elif (budget := _budget(cfg, outcome, asked_with, tried)) is None:
                failed_kept += outcome == "failed"
                continue
            messages = messages or render_messages(cfg.teacher, text)  # one copy for all its samples
            specs.add(pid, messages, index, budget)
    return specs, failed_kept
