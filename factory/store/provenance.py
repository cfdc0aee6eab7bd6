"""The provenance database (`RUN_DIR/provenance.duckdb`): where every published row came from.

One DuckDB file per run holds the run and its sessions, its sources (where from, under which license),
every problem (duplicates and contaminated ones included), every request sent to the teacher (the
exact messages and sampling, but not the reply text, which lives in the journal and the shards),
every verdict, every sample's final fate, and where each published row landed. The `lineage` view
joins a published row to its source, its request and its verdict. The DDL below is also written to
`schemas/provenance.sql` by `factory.store.schemas`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

from factory.store.duck import register, unregister
from factory.store.records import CONTAMINATION_SCHEMA, SOURCE_SCHEMA, SourceRecord

PROVENANCE_DB = "provenance.duckdb"

DDL = """\
-- All timestamps are UTC.
CREATE TABLE runs (
    run_id        VARCHAR PRIMARY KEY,
    pipeline      VARCHAR NOT NULL,
    config_json   JSON NOT NULL,        -- the resolved pipeline config, canonical JSON (no secrets)
    config_hash   VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    session_id      VARCHAR PRIMARY KEY, -- one `factory run` invocation; requests.session_id
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,           -- NULL while running or after a crash
    command         VARCHAR NOT NULL,
    code_version    VARCHAR,
    factory_version VARCHAR NOT NULL,
    lost_requests   BIGINT NOT NULL      -- sent but never journaled (in flight at a crash): paid, asked again
);

CREATE TABLE sources (
    name         VARCHAR PRIMARY KEY,  -- the source's name in the pipeline file; problems.source
    role         VARCHAR NOT NULL,     -- train (its problems are asked) | decontaminate (an eval set kept out)
    kind         VARCHAR NOT NULL,     -- hf | jsonl | parquet | csv
    location     VARCHAR NOT NULL,     -- HF dataset id or local dataset directory (hf), else the file path or glob
    subset       VARCHAR,              -- HF dataset config name
    split        VARCHAR,              -- HF split; NULL for local files
    revision     VARCHAR,              -- the HF revision asked for in the pipeline file
    commit       VARCHAR,              -- the hub commit it pointed at when read; NULL for local data
    license      VARCHAR,              -- NULL: unknown
    license_from VARCHAR,              -- pipeline (set in the file) | dataset (declared by its info or card)
    rows         BIGINT NOT NULL       -- rows listed in problems (train), or checked against (decontaminate)
);

CREATE TABLE problems (
    source           VARCHAR NOT NULL,
    source_row       VARCHAR NOT NULL,
    problem_id       VARCHAR NOT NULL,   -- not unique: a duplicate shares its original's id
    problem          VARCHAR NOT NULL,
    reference_answer VARCHAR,
    solution         VARCHAR,            -- the source's reference worked solution, when mapped
    status           VARCHAR NOT NULL,   -- ok | duplicate | no_reference | contaminated | empty
    duplicate_of     VARCHAR,            -- source:row of the copy kept in its group (exact or near copies)
    duplicate_similarity DOUBLE,         -- Jaccard of the matching forms' shingles; 1.0: the same matching form
    kept_because     VARCHAR,            -- has_reference | source_priority | first_seen: why the kept copy won
    contaminated_by  VARCHAR,            -- benchmark:row of the best match (all of them: contaminated_by)
    PRIMARY KEY (source, source_row)
);
-- a published row finds its problem by id (`factory audit RUN_DIR lineage ROW_ID`) without a scan
CREATE INDEX problems_problem_id ON problems (problem_id);

-- Every eval-set problem a contaminated training row copies; joins problems on (source, source_row).
CREATE TABLE contaminated_by (
    source     VARCHAR NOT NULL,
    source_row VARCHAR NOT NULL,
    benchmark  VARCHAR NOT NULL,         -- the eval set's name in the pipeline's `decontaminate` list
    eval_row   VARCHAR NOT NULL,         -- row id in that eval set
    method     VARCHAR NOT NULL,         -- ngram | fuzzy | duplicate:<method> (a copy of this row matched)
    score      DOUBLE NOT NULL,          -- ngram: share of the eval problem's n-grams found; fuzzy: similarity
    PRIMARY KEY (source, source_row, benchmark, eval_row)
);

CREATE TABLE requests (
    sample_id            VARCHAR PRIMARY KEY,
    problem_id           VARCHAR NOT NULL,
    sample_index         BIGINT NOT NULL,
    session_id           VARCHAR NOT NULL,
    model                VARCHAR NOT NULL,
    endpoint             VARCHAR NOT NULL, -- base URL, never with credentials
    messages             JSON NOT NULL,    -- the exact chat messages sent
    sampling             JSON NOT NULL,
    prompt_template_hash VARCHAR NOT NULL,
    attempts             BIGINT NOT NULL,
    outcome              VARCHAR NOT NULL, -- complete | truncated_reasoning | truncated_answer | empty | filtered
                                           -- | failed | rejected
    error                VARCHAR,
    error_class          VARCHAR,          -- 429 | 5xx | timeout | connection | malformed | 4xx | refused | other
                                           -- (NULL in journals written before classes were recorded)
    finish_reason        VARCHAR,
    reasoning_source     VARCHAR NOT NULL,
    think_closed         BOOLEAN NOT NULL,
    prompt_tokens        BIGINT,           -- usage as reported by the endpoint
    completion_tokens    BIGINT,
    reasoning_tokens     BIGINT,
    started_at           TIMESTAMP NOT NULL,
    finished_at          TIMESTAMP NOT NULL,
    latency_s            DOUBLE NOT NULL
);

CREATE TABLE outcomes (
    sample_id VARCHAR PRIMARY KEY REFERENCES requests (sample_id),
    status    VARCHAR NOT NULL,            -- published | rejected | pending
    reason    VARCHAR NOT NULL,            -- correct, wrong_answer, duplicate_trace, near_duplicate_trace, ...
    duplicate_of VARCHAR                   -- the published sample a duplicate_trace / near_duplicate_trace copies
);

CREATE TABLE verdicts (
    sample_id        VARCHAR PRIMARY KEY REFERENCES requests (sample_id),
    problem_id       VARCHAR NOT NULL,
    correct          BOOLEAN NOT NULL,
    reason           VARCHAR NOT NULL,     -- the verifier's reason code
    predicted        VARCHAR,
    trace_hash       VARCHAR,
    prompt_tokens    BIGINT NOT NULL,      -- measured with the run's tokenizer
    reasoning_tokens BIGINT NOT NULL,
    answer_tokens    BIGINT NOT NULL,
    total_tokens     BIGINT NOT NULL,
    length           BIGINT NOT NULL,      -- the published messages under the student's chat template
    verify_ms        DOUBLE NOT NULL,
    status           VARCHAR NOT NULL,     -- final status after dedup and length checks
    final_reason     VARCHAR NOT NULL
);

CREATE TABLE published (
    sample_id  VARCHAR PRIMARY KEY REFERENCES requests (sample_id), -- = the shard row's `id`
    problem_id VARCHAR NOT NULL,
    shard      VARCHAR NOT NULL,           -- path relative to the run directory
    row_index  BIGINT NOT NULL,            -- row within the shard
    UNIQUE (shard, row_index)
);

CREATE TABLE endpoint_costs (
    endpoint          VARCHAR PRIMARY KEY, -- base URL, never with credentials
    samples           BIGINT NOT NULL,     -- journaled results, re-asks included
    attempts          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    reasoning_tokens  BIGINT NOT NULL,
    answer_tokens     BIGINT NOT NULL,     -- completion minus reasoning, per reply, never below 0
    gpu_hours         DOUBLE NOT NULL,     -- wall time the run used the endpoint, summed over sessions
    usd               DOUBLE NOT NULL,     -- token prices plus GPU-hour price, from the pipeline file
    usd_per_published DOUBLE               -- the whole run's cost over its published samples
);

-- One row per published row: its source problem, the request that made it, and its verdict.
CREATE VIEW lineage AS
SELECT pub.sample_id AS id, pub.shard, pub.row_index, run.run_id, run.pipeline,
       p.source, p.source_row, p.problem_id, p.problem, p.reference_answer,
       r.session_id, r.sample_index, r.model, r.endpoint, r.messages, r.sampling,
       r.prompt_template_hash, r.attempts, r.outcome, r.finish_reason, r.reasoning_source,
       r.started_at, r.finished_at, r.latency_s,
       v.correct, v.reason AS verdict_reason, v.predicted, v.trace_hash, v.prompt_tokens,
       v.reasoning_tokens, v.answer_tokens, v.total_tokens, v.length
FROM published pub
JOIN requests r ON r.sample_id = pub.sample_id
JOIN verdicts v ON v.sample_id = pub.sample_id
-- only the `ok` row of a problem id was published (or its `no_reference` row, labelled by a majority
-- vote); its duplicates share the id
JOIN problems p ON p.problem_id = pub.problem_id AND p.status IN ('ok', 'no_reference')
CROSS JOIN runs run;
"""


def relations() -> list[str]:
    """The tables and views of the database, in the order the DDL creates them."""
    return re.findall(r"^CREATE (?:TABLE|VIEW) (\w+)", DDL, flags=re.MULTILINE)


_INGEST = """
INSERT INTO runs SELECT * FROM run_in;
INSERT INTO sessions SELECT * FROM sessions_in;
INSERT INTO endpoint_costs SELECT * FROM costs_in;
INSERT INTO sources SELECT * FROM sources_in;
INSERT INTO problems
SELECT source, source_row, problem_id, problem, reference_answer, solution, status, duplicate_of,
       duplicate_similarity, kept_because, contaminated_by FROM problems_in;
INSERT INTO contaminated_by SELECT source, source_row, benchmark, eval_row, method, score FROM contamination_in;
INSERT INTO requests
SELECT sample_id, problem_id, sample_index, session_id, model, endpoint, to_json(messages),
       CAST(sampling AS JSON), prompt_template_hash, attempts, outcome, error, error_class, finish_reason,
       reasoning_source, think_closed, prompt_tokens, completion_tokens, reasoning_tokens,
       make_timestamp(CAST(round(started_at * 1e6) AS BIGINT)),
       make_timestamp(CAST(round(finished_at * 1e6) AS BIGINT)), latency_s
FROM samples_in;
INSERT INTO outcomes SELECT sample_id, status, reason, duplicate_of FROM outcomes_in;
INSERT INTO verdicts
SELECT v.sample_id, v.problem_id, v.correct, v.reason, v.predicted, v.trace_hash, v.prompt_tokens,
       v.reasoning_tokens, v.answer_tokens, v.total_tokens, v.length, v.verify_ms, o.status, o.reason
FROM verdicts_in v JOIN outcomes_in o ON o.sample_id = v.sample_id;  -- verdicts of unknown samples are dropped
INSERT INTO published SELECT sample_id, problem_id, shard, row_index FROM placements_in;
"""

_TS = pa.timestamp("us")
_RUN_SCHEMA = pa.schema([("run_id", pa.string()), ("pipeline", pa.string()), ("config_json", pa.string()),
                         ("config_hash", pa.string()), ("created_at", _TS)])
_COST_SCHEMA = pa.schema([("endpoint", pa.string()), ("samples", pa.int64()), ("attempts", pa.int64()),
                          ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()),
                          ("reasoning_tokens", pa.int64()), ("answer_tokens", pa.int64()),
                          ("gpu_hours", pa.float64()), ("usd", pa.float64()),
                          ("usd_per_published", pa.float64())])
_SESSION_SCHEMA = pa.schema([("session_id", pa.string()), ("started_at", _TS), ("finished_at", _TS),
                             ("command", pa.string()), ("code_version", pa.string()),
                             ("factory_version", pa.string()), ("lost_requests", pa.int64())])


def _utc(value: str | None) -> dt.datetime | None:
    """Parse an ISO timestamp into naive UTC (naive input is taken to be UTC already)."""
    if value is None:
        return None
    t = dt.datetime.fromisoformat(value)
    return t.astimezone(dt.timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def write_provenance(run_dir: Path, *, run: dict, sessions: list[dict], problems: pa.Table, samples: pa.Table,
                     verdicts: pa.Table, placements: pa.Table, outcomes: pa.Table,
                     costs: list[dict] | None = None, sources: list[SourceRecord] | None = None,
                     contamination: pa.Table | None = None) -> Path:
    """Build `run_dir/provenance.duckdb` from the run's tables, replacing any previous one atomically.

    Args:
        run_dir: the run directory.
        run: run_id, pipeline, config_json, config_hash, created_at (ISO string).
        sessions: one dict per `factory run` invocation: session_id, started_at, finished_at (ISO
            strings, finished_at may be None), command, code_version, factory_version.
        problems: PROBLEM_SCHEMA rows, every status.
        samples: SAMPLE_SCHEMA rows (the journal); the reply text is not copied.
        verdicts: VERDICT_SCHEMA rows.
        placements: `PublishResult.placements`.
        outcomes: `PublishResult.outcomes`.
        costs: rows of `endpoint_costs` (see `factory.meter.cost.endpoint_costs`).
        sources: every source and eval set as read (see `factory.stages.sources.curate_pipeline`).
        contamination: CONTAMINATION_SCHEMA rows, the eval-set matches curation found.

    Returns:
        The path of the database.
    """
    run_dir = Path(run_dir)
    run_table = pa.Table.from_pylist([{**{k: run[k] for k in _RUN_SCHEMA.names},
                                       "created_at": _utc(run["created_at"])}], schema=_RUN_SCHEMA)
    # a handful of sessions per run: a Python pass over them is fine
    session_table = pa.Table.from_pylist(
        [{**{k: s.get(k) for k in _SESSION_SCHEMA.names}, "started_at": _utc(s["started_at"]),
          "finished_at": _utc(s.get("finished_at")), "lost_requests": s.get("lost_requests") or 0}
         for s in sessions], schema=_SESSION_SCHEMA)
    cost_table = pa.Table.from_pylist(costs or [], schema=_COST_SCHEMA)
    source_table = pa.Table.from_pylist([s.model_dump() for s in sources or []], schema=SOURCE_SCHEMA)
    if contamination is None:
        contamination = CONTAMINATION_SCHEMA.empty_table()

    fd, tmp = tempfile.mkstemp(prefix=".provenance-", suffix=".duckdb", dir=run_dir)
    os.close(fd)
    os.unlink(tmp)  # DuckDB wants to create the file itself
    try:
        con = duckdb.connect(tmp)
        try:
            con.execute(DDL)
            for name, table in (("run_in", run_table), ("sessions_in", session_table), ("problems_in", problems),
                                ("samples_in", samples), ("verdicts_in", verdicts),
                                ("placements_in", placements), ("outcomes_in", outcomes),
                                ("costs_in", cost_table), ("sources_in", source_table),
                                ("contamination_in", contamination)):
                register(con, name, table)
            con.execute("BEGIN TRANSACTION")
            con.execute(_INGEST)
            con.execute("COMMIT")
            for name in ("run_in", "sessions_in", "problems_in", "samples_in", "verdicts_in",
                         "placements_in", "outcomes_in", "costs_in", "sources_in", "contamination_in"):
                unregister(con, name)
            con.execute("CHECKPOINT")  # everything into the main file, so no .wal travels with it
        finally:
            con.close()
        target = run_dir / PROVENANCE_DB
        # our databases are checkpointed, so a log beside the old one is stale; it must not be
        # replayed into the new file
        Path(f"{target}.wal").unlink(missing_ok=True)
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, f"{tmp}.wal"):
            Path(leftover).unlink(missing_ok=True)
    return target
