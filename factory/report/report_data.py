"""What `factory report` shows, gathered as plain dicts of lists: no drawing here, so each figure's numbers
can be tested on their own (`charts` draws them, `html_page` lays out the page).

Sources: the provenance database (read-only, through `audit.connect`), `manifest.json`, `problems.parquet`
and, for token lengths, two columns of the shards the manifest lists (`length`, the tokens of a row's
`messages` under the student's chat template, where the shards have it, else `total_tokens`; and
`curriculum_bucket`). Large inputs are binned here, so the page's size does not grow with the run.
A file among them that cannot be read (a truncated shard, manifest or database) is one `RunDirError`
naming it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from factory.errors import RunDirError
from factory.report.audit import provenance
from factory.store.records import CURRICULUM_BUCKETS

# the most rows of the contamination table the page lists (the summary above it counts them all)
CONTAMINATION_ROWS = 200
# bins of the length histogram, and the most bins of the time series
LENGTH_BINS = 60
MAX_TIME_BINS = 120
# time bins in seconds: the smallest that keeps a run within MAX_TIME_BINS
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
PASS_RATE_BINS = 20


def gather(run_dir: Path) -> dict:
    """Everything the report draws, from RUN_DIR's files (raises `RunDirError` without provenance)."""
    run_dir = Path(run_dir)
    with provenance(run_dir) as con:
        manifest = _manifest(run_dir)
        spent = costs(con)
        return dict(
            header=header(con, manifest, spent),
            lengths=lengths(run_dir, manifest),
            acceptance=acceptance_by_source(con),
            rejections=rejections_by_reason(con),
            pass_rates=pass_rates(run_dir / "problems.parquet"),
            throughput=throughput(con),
            costs=spent,
            contamination=contamination(con),
        )


def _unreadable(run_dir: Path, path: Path, e: Exception) -> RunDirError:
    """The one line for a file of the run that is there but cannot be read."""
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    return RunDirError(f"{path}: cannot be read ({first}); `factory check {run_dir}` names every damaged file "
                       "of the publication, and rerunning `factory run` on the run directory writes them again")


def _manifest(run_dir: Path) -> dict | None:
    path = run_dir / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except ValueError as e:
        raise _unreadable(run_dir, path, e) from None
    return manifest if isinstance(manifest, dict) else None


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    rel = con.sql(sql)
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def header(con: duckdb.DuckDBPyConnection, manifest: dict | None, spent: list[dict]) -> dict:
    """Run id, pipeline, tokenizer and the headline counts (`spent`: the rows of `costs`)."""
    run = _rows(con, "SELECT run_id, pipeline, created_at FROM runs")
    run = run[0] if run else dict(run_id="?", pipeline="?", created_at=None)
    problems = dict(con.sql("SELECT status, count(*) FROM problems GROUP BY ALL").fetchall())
    outcomes = dict(con.sql("SELECT status, count(*) FROM outcomes GROUP BY ALL").fetchall())
    usd = sum(r["usd"] for r in spent)
    samples = sum(outcomes.values())
    published = outcomes.get("published", 0)
    manifest = manifest or {}
    return dict(
        run_id=run["run_id"], pipeline=run["pipeline"],
        created_at=str(run["created_at"]) if run["created_at"] else None,
        published_at=manifest.get("created_at"),
        tokenizer=manifest.get("tokenizer"),
        tokenizer_revision=manifest.get("tokenizer_revision"),
        chat_template_sha256=manifest.get("chat_template_sha256"),
        problems=sum(problems.values()), problems_by_status=dict(sorted(problems.items())),
        samples=samples, published=published, rejected=outcomes.get("rejected", 0),
        pending=outcomes.get("pending", 0),
        acceptance=published / samples if samples else None,
        shards=len(manifest.get("shards", [])),
        usd=usd, tokens=sum(r["prompt_tokens"] + r["completion_tokens"] for r in spent),
        usd_per_published=usd / published if published else None,
    )


def nice_step(span: float, bins: int) -> float:
    """The smallest 1, 2 or 5 x 10^k at least `span / bins`: a readable bin width."""
    if span <= 0:
        return 1.0
    raw = span / bins
    base = 10 ** math.floor(math.log10(raw))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw)


def lengths(run_dir: Path, manifest: dict | None) -> dict:
    """Token lengths of the published rows, binned alike for every curriculum bucket.

    Returns `column` (the shard column read), `edges` (bin edges, tokens), `buckets` (bucket limit ->
    `counts` per bin, `rows`, `min`, `p50`, `max`) and `limits` (every curriculum limit).
    """
    paths = [run_dir / s["path"] for s in (manifest or {}).get("shards", [])]
    paths = [p for p in paths if p.is_file()]
    column, tables = "total_tokens", []
    for i, path in enumerate(paths):  # one by one, so a damaged shard is named (Arrow's error does not)
        try:
            if i == 0 and "length" in pq.read_schema(path).names:
                column = "length"
            tables.append(pq.read_table(path, columns=[column, "curriculum_bucket"]))
        except (OSError, pa.ArrowException) as e:  # a truncated shard: ArrowInvalid
            raise _unreadable(run_dir, path, e) from None
    out = dict(column=column, edges=[], buckets={}, limits=list(CURRICULUM_BUCKETS))
    if not tables:
        return out
    table = pa.concat_tables(tables, promote_options="permissive")
    values = table[column].to_numpy(zero_copy_only=False).astype(np.int64)
    bucket = table["curriculum_bucket"].to_numpy(zero_copy_only=False).astype(np.int64)
    if values.size == 0:
        return out
    step = nice_step(float(values.max()), LENGTH_BINS)
    edges = np.arange(0, values.max() + step + 1, step)
    out["edges"] = edges.tolist()
    for limit in sorted(set(bucket.tolist())):
        v = values[bucket == limit]
        out["buckets"][int(limit)] = dict(counts=np.histogram(v, edges)[0].tolist(), rows=int(v.size),
                                          min=int(v.min()), p50=float(np.median(v)), max=int(v.max()))
    return out


# the problem a sample was asked for: its non-duplicate row (a duplicate shares the problem id)
_SAMPLE_SOURCE = """
    WITH owner AS (
        SELECT problem_id, arg_min(source, CASE status WHEN 'ok' THEN 0 WHEN 'no_reference' THEN 1
                                                       WHEN 'duplicate' THEN 3 ELSE 2 END) AS source
        FROM problems GROUP BY problem_id)
    SELECT coalesce(o.source, '(unknown)') AS source, x.status, x.reason
    FROM outcomes x JOIN requests r USING (sample_id) LEFT JOIN owner o ON o.problem_id = r.problem_id
"""


def acceptance_by_source(con: duckdb.DuckDBPyConnection) -> dict:
    """Samples per source: published, rejected and pending (lists in source order)."""
    rows = _rows(con, f"""
        SELECT source, count(*) FILTER (status = 'published') AS published,
               count(*) FILTER (status = 'rejected') AS rejected, count(*) FILTER (status = 'pending') AS pending
        FROM ({_SAMPLE_SOURCE}) GROUP BY source ORDER BY source""")
    return {k: [r[k] for r in rows] for k in ("source", "published", "rejected", "pending")}


def rejections_by_reason(con: duckdb.DuckDBPyConnection) -> dict:
    """Rejected samples per reason code, the most frequent first."""
    rows = _rows(con, "SELECT reason, count(*) AS samples FROM outcomes WHERE status = 'rejected' "
                      "GROUP BY reason ORDER BY samples DESC, reason")
    return dict(reason=[r["reason"] for r in rows], samples=[r["samples"] for r in rows])


def pass_rates(problems_path: Path) -> dict:
    """Histogram of the asked problems' teacher pass rates: `edges` (0 to 1) and `counts` per bin."""
    out = dict(edges=[i / PASS_RATE_BINS for i in range(PASS_RATE_BINS + 1)], counts=[0] * PASS_RATE_BINS,
               problems=0, mean=None)
    if not problems_path.is_file():
        return out
    try:
        if "pass_rate" not in pq.read_schema(problems_path).names:
            return out
        rates = pq.read_table(problems_path, columns=["pass_rate"])["pass_rate"].drop_null().to_numpy()
    except (OSError, pa.ArrowException) as e:
        raise _unreadable(problems_path.parent, problems_path, e) from None
    if rates.size:
        # by index, not by float edges: 3/4 belongs to [75%, 80%) whatever 15 * 0.05 rounds to; 1 to the last bin
        at = np.clip(np.floor(rates * PASS_RATE_BINS + 1e-9), 0, PASS_RATE_BINS - 1).astype(np.int64)
        out.update(counts=np.bincount(at, minlength=PASS_RATE_BINS).tolist(), problems=int(rates.size),
                   mean=float(rates.mean()))
    return out


def time_step(span_s: float) -> int:
    """Seconds per time bin: the smallest step that keeps `span_s` within MAX_TIME_BINS bins."""
    return next((s for s in _TIME_STEPS if span_s / s <= MAX_TIME_BINS), _TIME_STEPS[-1])


def _in_flight_integral(starts: np.ndarray, ends: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Request-seconds in flight before each time in `at`: the sum over requests of
    min(t - start, end - start) clipped at 0, which is sum(t - start | start < t) - sum(t - end | end < t)."""
    def part(points: np.ndarray) -> np.ndarray:
        points = np.sort(points)
        below = np.searchsorted(points, at, side="left")
        before = np.concatenate([[0.0], np.cumsum(points)])
        return below * at - before[below]
    return part(starts) - part(ends)


def throughput(con: duckdb.DuckDBPyConnection) -> dict:
    """Requests and tokens over time, binned by when each request finished (UTC).

    Returns `step_s` (bin width), `start` (ISO times of the bins' starts), per-minute rates
    `requests_per_min`, `completion_tokens_per_min`, `prompt_tokens_per_min`, and `in_flight` (the
    mean number of requests under way during each bin, from their start and finish times).
    """
    cols = con.sql("""
        SELECT epoch(started_at) AS s, epoch(finished_at) AS f, coalesce(prompt_tokens, 0) AS p,
               coalesce(completion_tokens, 0) AS c FROM requests""").fetchnumpy()
    out = dict(step_s=None, start=[], requests_per_min=[], completion_tokens_per_min=[],
               prompt_tokens_per_min=[], in_flight=[])
    if len(cols["f"]) == 0:
        return out
    s, f = np.asarray(cols["s"], float), np.asarray(cols["f"], float)
    f = np.maximum(f, s)
    first, last = float(np.floor(s.min())), float(f.max())
    step = time_step(last - first)
    first = math.floor(first / step) * step
    edges = first + step * np.arange(int((last - first) // step) + 2)
    per_min = 60.0 / step

    def rate(weights=None):
        return (np.histogram(f, edges, weights=weights)[0] * per_min).round(3).tolist()

    flight = _in_flight_integral(s, f, edges)
    out.update(step_s=step, start=[_iso(t) for t in edges[:-1]], requests_per_min=rate(),
               completion_tokens_per_min=rate(np.asarray(cols["c"], float)),
               prompt_tokens_per_min=rate(np.asarray(cols["p"], float)),
               in_flight=(np.diff(flight) / step).round(3).tolist())
    return out


def _iso(epoch_s: float) -> str:
    return np.datetime64(int(round(epoch_s * 1000)), "ms").astype(str).replace("T", " ")


def costs(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """One row per endpoint of `endpoint_costs` (empty for a database written before it existed)."""
    try:
        return _rows(con, """
            SELECT endpoint, samples, attempts, prompt_tokens, reasoning_tokens, answer_tokens, completion_tokens,
                   gpu_hours, usd, usd_per_published FROM endpoint_costs ORDER BY usd DESC, endpoint""")
    except duckdb.CatalogException:
        return []


def contamination(con: duckdb.DuckDBPyConnection) -> dict:
    """Eval-set matches: a summary per benchmark and method, and the first CONTAMINATION_ROWS matches."""
    summary = _rows(con, """
        SELECT benchmark, method, count(DISTINCT (source, source_row)) AS problems, count(*) AS matches,
               min(score) AS min_score FROM contaminated_by GROUP BY ALL ORDER BY ALL""")
    total = con.sql("SELECT count(*) FROM contaminated_by").fetchall()[0][0]
    rows = _rows(con, f"""
        SELECT c.benchmark, c.eval_row, c.method, c.score, c.source, c.source_row, p.problem
        FROM contaminated_by c LEFT JOIN problems p USING (source, source_row)
        ORDER BY c.benchmark, c.score DESC, c.source, c.source_row, c.eval_row LIMIT {CONTAMINATION_ROWS}""")
    return dict(summary=summary, rows=rows, total=int(total))
