"""`factory audit RUN_DIR [SQL | QUESTION ARGS]`: the provenance database, opened read-only.

The questions themselves are in `factory.report.questions` (their text in `answers`); writing the
database out is `factory.report.export`, never a query. A database that cannot be read (truncated or
damaged: duckdb's IO errors, at open or mid-query) is one `RunDirError` for every command that reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from factory.errors import FactoryError, RunDirError
from factory.report.questions import records
from factory.store.provenance import PROVENANCE_DB, relations

SUMMARY = {
    "sources and licenses": """
        SELECT name, role, kind, location, split, coalesce(commit, revision) AS version,
               coalesce(license, 'unknown') AS license, license_from, rows FROM sources ORDER BY role DESC, name""",
    "problems by source and status": """
        SELECT source, status, count(*) AS problems FROM problems GROUP BY ALL ORDER BY ALL""",
    "eval-set matches by benchmark and method (rows not asked)": """
        SELECT benchmark, method, count(DISTINCT (source, source_row)) AS problems, round(min(score), 3) AS min_score
        FROM contaminated_by GROUP BY ALL ORDER BY ALL""",
    "samples by final status and reason": """
        SELECT status, reason, count(*) AS samples FROM outcomes GROUP BY ALL ORDER BY 1, 3 DESC""",
    "requests and tokens spent": """
        SELECT model, endpoint, count(*) AS requests, sum(attempts) AS attempts,
               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
               sum(reasoning_tokens) AS reasoning_tokens, round(avg(latency_s), 3) AS mean_latency_s
        FROM requests GROUP BY ALL ORDER BY ALL""",
    "cost by endpoint (all sessions, re-asks included)": """
        SELECT endpoint, samples, attempts, round(gpu_hours, 4) AS gpu_hours, round(usd, 4) AS usd,
               round(usd_per_published, 6) AS usd_per_published FROM endpoint_costs ORDER BY endpoint""",
    "sessions": """
        SELECT session_id, started_at, finished_at, lost_requests, command FROM sessions ORDER BY started_at""",
}


def connect(run_dir: Path) -> duckdb.DuckDBPyConnection:
    db = Path(run_dir) / PROVENANCE_DB
    if not db.is_file():
        raise RunDirError(f"no provenance database at {str(db)!r}; it is written when `factory run` publishes")
    # read-only for files too: no COPY ... TO, no reading or attaching other files, no INSTALL or LOAD, and
    # the setting locked so a query cannot turn it back on (writing is an explicit export, not a query)
    try:
        con = duckdb.connect(str(db), read_only=True, config={"enable_external_access": False})
    except duckdb.Error as e:
        raise damaged(run_dir, e) from None
    con.execute("SET lock_configuration = true")
    return con


def damaged(run_dir: Path, e: Exception) -> RunDirError:
    """The one line for a provenance database duckdb cannot read."""
    return RunDirError(f"{Path(run_dir) / PROVENANCE_DB}: the provenance database cannot be read, it is truncated or "
                       f"damaged ({str(e).splitlines()[0]}); rerun `factory run` on {str(run_dir)!r} to write it "
                       "again")


@contextmanager
def provenance(run_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """`connect`, closed afterwards; a read that fails on the file's bytes (a truncated database opens, then
    fails at the first page it lacks) becomes `damaged`'s one line."""
    con = connect(run_dir)
    try:
        yield con
    except duckdb.IOException as e:
        raise damaged(run_dir, e) from None
    finally:
        con.close()


def _table(rel: duckdb.DuckDBPyRelation) -> str:
    cols = rel.columns
    rows = [["" if v is None else str(v) for v in row] for row in rel.fetchall()]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*cols), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


def _section(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    try:
        return _table(con.sql(sql))
    except duckdb.CatalogException:  # a table added since this database was written
        return "(not recorded in this database: rerun `factory run` on the run directory to rebuild it)"


def _json(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def audit(run_dir: Path, sql: str | None = None, *, as_json: bool = False) -> str:
    """The summary, or the result of one read-only SQL query, as text (or JSON: a list of row objects, the
    summary an object of them by section)."""
    with provenance(run_dir) as con:
        if sql:
            try:
                return _json(records(con, sql)) if as_json else _table(con.sql(sql))
            except duckdb.IOException:
                raise  # the file, not the query
            except duckdb.Error as e:
                raise FactoryError(f"SQL failed: {str(e).splitlines()[0]}; tables and views: "
                                   f"{', '.join(relations())}") from None
        if as_json:
            summary = {}
            for title, q in SUMMARY.items():
                try:
                    summary[title] = records(con, q)
                except duckdb.CatalogException:
                    summary[title] = None  # not recorded in this database
            return _json(summary)
        return "\n\n".join(f"== {title}\n{_section(con, q)}" for title, q in SUMMARY.items())


def answer(run_dir: Path, question: str, args: list[str], *, as_json: bool = False) -> str:
    """One of `factory.report.questions.QUESTIONS` asked of the run, as text or JSON."""
    from factory.report import answers, questions

    with provenance(run_dir) as con:
        data = questions.ask(con, question, args)
    return _json(data) if as_json else answers.RENDER[question](data)
