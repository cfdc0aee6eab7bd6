"""Curation: decide every source row's status before a single request is paid for.

A row is `empty` (no text), `contaminated` (a copy of an eval-set problem, drifted or not), `duplicate` (a
copy, drifted or not, of a problem that is kept), `no_reference` (nothing to verify against) or `ok`.
Copies are grouped by their matching form (`canonical`) and by near-duplicate pairs (`near_dup`); each
group keeps one member and says why. A group in which any member copies an eval problem is contaminated
as a whole: its other members are the same problem, whatever the check scored for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from factory.config import CurateConfig
from factory.errors import SourceError
from factory.stages.sources.canonical import Signature, canonical, signature
from factory.stages.sources.decontam import ContaminationIndex, EvalItem, Match
from factory.stages.sources.ids import problem_id
from factory.stages.sources.loaders import RawProblem
from factory.stages.sources.near_dup import Item, clusters, jaccard, near_pairs, shingles
from factory.store.records import CONTAMINATION_SCHEMA, PROBLEM_SCHEMA, SourceRecord


@dataclass
class Curation:
    """What curation decided: the problems table (every row, every status) and every eval-set match."""

    problems: pa.Table
    contamination: pa.Table
    settings: dict = field(default_factory=dict)
    sources: list[SourceRecord] = field(default_factory=list)  # filled in by `curate_pipeline`


@dataclass
class _Row:
    raw: RawProblem
    order: int
    source_rank: int
    text: str
    form: str = ""
    sig: Signature | None = None
    matches: list[Match] = field(default_factory=list)
    via: _Row | None = None  # contaminated through a copy: the member of its group that matched
    status: str = "ok"
    duplicate_of: str | None = None
    similarity: float | None = None
    kept_because: str | None = None

    @property
    def key(self) -> str:
        return f"{self.raw.source}:{self.raw.source_row}"


def _keeper_order(r: _Row) -> tuple:
    # a copy with a reference can be verified, one without is never asked: that outweighs source order
    return (r.raw.answer is None, r.source_rank, r.order)


def _kept_because(keeper: _Row, other: _Row) -> str:
    if keeper.raw.answer is not None and other.raw.answer is None:
        return "has_reference"
    if keeper.source_rank < other.source_rank:
        return "source_priority"
    return "first_seen"


def _read(rows: Iterable[RawProblem], source_order: list[str]) -> list[_Row]:
    rank = {name: i for i, name in enumerate(source_order)}
    seen: set[tuple[str, str]] = set()
    out = []
    for r in rows:
        if (r.source, r.source_row) in seen:
            # provenance keys problems by (source, row id): a repeated id would make lineage ambiguous
            raise SourceError(f"source {r.source!r}: row id {r.source_row!r} appears more than once; map "
                              "`fields.id` to a unique column, or drop it to use row numbers")
        seen.add((r.source, r.source_row))
        out.append(_Row(r, len(out), rank.get(r.source, len(rank)), r.problem.strip()))
    return out


def _dedup(rows: list[_Row], cfg: CurateConfig) -> None:
    by_form: dict[str, list[_Row]] = {}
    for r in rows:
        by_form.setdefault(r.form, []).append(r)
    forms = list(by_form)
    groups = [[i] for i in range(len(forms))]
    if cfg.near_duplicates.enabled and len(forms) > 1:
        items = [Item(f, by_form[f][0].sig) for f in forms]
        pairs = near_pairs(items, cfg.near_duplicates.threshold, cfg.near_duplicates.num_perm,
                           cfg.near_duplicates.shingle_tokens)
        merged = clusters(len(forms), pairs)
        in_cluster = {i for g in merged for i in g}
        groups = merged + [[i] for i in range(len(forms)) if i not in in_cluster]
    width = cfg.near_duplicates.shingle_tokens
    for group in groups:
        members = [r for i in group for r in by_form[forms[i]]]
        if len(members) < 2:
            continue
        keeper = min(members, key=_keeper_order)
        keeper_shingles = shingles(keeper.form, width) if len(group) > 1 else None
        tainted = next((m for m in sorted(members, key=_keeper_order) if m.matches), None)
        for m in members:
            if m is not keeper:
                m.duplicate_of, m.kept_because = keeper.key, _kept_because(keeper, m)
                same = m.form == keeper.form
                m.similarity = 1.0 if same else round(jaccard(shingles(m.form, width), keeper_shingles), 4)
            if tainted is not None and not m.matches:
                m.via = tainted


def curate(rows: Iterable[RawProblem], eval_rows: Iterable[RawProblem], cfg: CurateConfig,
           source_order: list[str] = (), limit: int | None = None) -> Curation:
    """Decide every row's status (see the module docstring); `limit` keeps the rows up to the K-th `ok` one."""
    table = _read(rows, list(source_order))
    live = [r for r in table if r.text]
    for r in live:
        r.form = canonical(r.text)
        r.sig = signature(r.text)
    con = cfg.contamination
    evals = [EvalItem(e.source, e.source_row, canonical(e.problem), signature(e.problem))
             for e in eval_rows if e.problem.strip()]
    if evals:
        index = ContaminationIndex(evals, con.ngram, con.threshold, con.fuzzy_threshold, con.short_tokens,
                                   con.same_numbers)
        cache: dict[str, list[Match]] = {}
        for r in live:
            if r.form not in cache:
                cache[r.form] = index.matches(r.form, r.sig)
            r.matches = cache[r.form]
    _dedup(live, cfg)

    for r in table:
        if not r.text:
            r.status = "empty"
        elif r.matches or r.via:
            r.status = "contaminated"
        elif r.duplicate_of:
            r.status = "duplicate"
        elif not r.raw.answer:
            r.status = "no_reference"
    if limit is not None:
        ok = [i for i, r in enumerate(table) if r.status == "ok"]
        if len(ok) > limit:
            table = table[:ok[limit - 1] + 1]
    return Curation(_problems_table(table), _contamination_table(table), cfg.model_dump())


def _problems_table(rows: list[_Row]) -> pa.Table:
    out = []
    for r in rows:
        # a row contaminated through a copy names that copy's best match (the table says "duplicate:")
        matches = r.matches or (r.via.matches if r.via else [])
        best = matches[0] if matches else None
        out.append(dict(
            problem_id=problem_id(r.text), source=r.raw.source, source_row=r.raw.source_row, problem=r.text,
            reference_answer=r.raw.answer, solution=r.raw.solution, status=r.status, duplicate_of=r.duplicate_of,
            duplicate_similarity=r.similarity, kept_because=r.kept_because,
            contaminated_by=f"{best.benchmark}:{best.eval_row}" if best else None))
    return pa.Table.from_pylist(out, schema=PROBLEM_SCHEMA)


def _contamination_table(rows: list[_Row]) -> pa.Table:
    out = []
    for r in rows:
        if r.status != "contaminated":
            continue
        if r.matches:
            out += [dict(source=r.raw.source, source_row=r.raw.source_row, benchmark=m.benchmark,
                         eval_row=m.eval_row, method=m.method, score=round(m.score, 4)) for m in r.matches]
        else:
            # the same problem as a member that matched: its match, through that member
            m = r.via.matches[0]
            out.append(dict(source=r.raw.source, source_row=r.raw.source_row, benchmark=m.benchmark,
                            eval_row=m.eval_row, method=f"duplicate:{m.method}", score=round(m.score, 4)))
    return pa.Table.from_pylist(out, schema=CONTAMINATION_SCHEMA)
