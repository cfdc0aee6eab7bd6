"""The teacher stage's driver side: decide what is missing, hand it to workers, journal every result."""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from factory.config import PipelineConfig
from factory.errors import TeacherUnreachable
from factory.identity import prompt_template_hash, render_messages, sample_id, sampling_params
from factory.journal import Journal, ledger, lost_requests
from factory.progress import Progress, log
from factory.teacher.client import AskSettings
from factory.teacher.endpoint import Endpoint
from factory.teacher.pool import EndpointSpec


def settings_for(cfg: PipelineConfig, endpoints: list[Endpoint], session_id: str) -> AskSettings:
    limits = cfg.teacher.limits
    return AskSettings(
        endpoints=tuple(EndpointSpec(e.base_url, e.api_key, e.weight) for e in endpoints),
        model=endpoints[0].model, sampling=sampling_params(cfg.teacher),
        prompt_template_hash=prompt_template_hash(cfg.teacher), timeout_s=cfg.teacher.timeout_s,
        max_attempts=cfg.teacher.max_attempts, session_id=session_id, rpm=limits.rpm, tpm=limits.tpm,
        adaptive=limits.adaptive, adaptive_start=limits.adaptive_start,
    )


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
                  retry_failed: bool = False) -> tuple[Specs, int]:
    """Every sample of every `ok` problem that must be asked (again).

    That is: samples the journal does not hold; failed ones when `retry_failed`; truncated ones a
    larger budget may finish (see `_budget`). Returns the specs and how many stored samples failed
    and are left as they are.
    """
    stored = ledger(run_dir)
    ok = problems.filter(pc.equal(problems["status"], "ok"))
    specs, failed_kept = Specs(settings), 0
    for pid, text in zip(ok["problem_id"].to_pylist(), ok["problem"].to_pylist()):
        messages = None
        for index in range(cfg.teacher.n):
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


def _warn_if_no_reasoning(progress: Progress, final: bool = False) -> bool:
    """Warn once most complete samples carry no reasoning; True when the question was settled.

    Settled after 50 complete samples, or at the end of the stage on whatever completed (a small run
    where some samples failed or were cut never reaches its total of complete ones).
    """
    if progress.complete < (1 if final else min(50, progress.total)):
        return False
    if progress.complete_bare > progress.complete / 2:
        log(f"[generate] WARNING: {progress.complete_bare} of {progress.complete} complete samples carry no "
            "reasoning (no reasoning_content/reasoning field, no <think> tags): is the teacher a reasoning "
            "model, and is its server's reasoning parser on?")
    return True


def _ask(cfg: PipelineConfig, specs: Specs, settings: AskSettings, run_dir: Path, stage: str,
         prices: dict) -> Progress:
    from factory.executor import run_teacher  # Ray is imported only by the executor

    journal = Journal(run_dir, settings.session_id)
    progress = Progress(stage, len(specs), prices=prices)
    warned: list[bool] = []

    def on_chunks(chunks: list[tuple[list[dict], list[str]]]) -> None:
        records = [r for chunk, _ in chunks for r in chunk]
        journal.append(records, [s for _, started in chunks for s in started])  # durable before it counts
        progress.add(records)
        if not warned and _warn_if_no_reasoning(progress):
            warned.append(True)

    try:
        run_teacher(settings, cfg.teacher.concurrency, specs, on_chunks, cfg.ray, cfg.teacher.batch_size)
        if not warned:
            _warn_if_no_reasoning(progress, final=True)
    finally:
        journal.close()
        progress.line(final=True)
    if progress.done and progress.by.get("failed", 0) == progress.done:
        if specs.reasks == len(specs):
            # only re-asks of kept, cut replies: those stay as they were (kept and tagged) and the run
            # goes on; --retry-failed would not help, since no stored sample is "failed"
            log(f"[{stage}] WARNING: all {progress.done} re-asks failed after retries (last: {progress.last_error}); "
                "the truncated answers are kept as they were")
            return progress
        raise TeacherUnreachable(f"all {progress.done} requests failed after retries (last: {progress.last_error}); "
                                 "check the teacher, then run again with --retry-failed")
    return progress


def generate(cfg: PipelineConfig, problems: pa.Table, settings: AskSettings, run_dir: Path,
             retry_failed: bool = False, prices: dict | None = None) -> int:
    """Ask the teacher for every missing sample, then re-ask truncated answers if the policy says so.

    Returns how many requests were made. `prices` maps public endpoint URL -> PriceConfig, for the
    live cost figure.

    Raises:
        TeacherUnreachable: when a round asked something and every request failed.
    """
    asked = 0
    for round_ in range(2):  # the second round only holds re-asks of truncated answers
        specs, failed_kept = missing_specs(cfg, problems, settings, run_dir, retry_failed)
        if round_ == 0 and (lost := sum(lost_requests(run_dir).values())):
            log(f"[generate] {lost} requests of earlier sessions were paid for but their results were lost "
                "(in flight when a session stopped); those samples were asked again")
        if round_ == 0 and failed_kept:
            log(f"[generate] {failed_kept} stored samples failed after retries; add --retry-failed to ask them "
                "again")
        if not specs:
            if round_ == 0:
                log("[generate] nothing missing: every sample is in the journal")
            break
        _ask(cfg, specs, settings, run_dir, "generate" if round_ == 0 else "re-ask truncated", prices or {})
        asked += len(specs)
        retry_failed = False  # what failed in round one stays for the user to decide
    return asked
