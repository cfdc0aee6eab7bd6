"""Benchmark: one published row's lineage (`factory audit RUN_DIR lineage ROW_ID`) on a million published rows.

    python tests/bench/bench_lineage.py [--published 1000000] [--queries 200] [--keep DIR]

Builds a synthetic `provenance.duckdb` with the real DDL (`factory.store.provenance.DDL`) in a temporary
directory, entirely in DuckDB SQL: problems with n=8 samples each (25 of every 32 samples published, the
rest rejected under a mix of reasons), 5% extra problem rows that are dropped duplicates, a few
contaminated ones, four sessions, two endpoints, requests whose messages JSON is about 1 KB (a system
prompt and a ~1 KB problem prompt, shared by a problem's samples as in a real run), and published rows
spread over 100 shards per bucket directory. Then it opens the database the way `factory audit` does
(read-only, external access off) and times `factory.report.questions.lineage` for random published ids:
the first query on a fresh connection (cold: indexes not yet loaded) and p50/p99 of the rest (warm),
against the 100 ms target. For comparison it also times the `lineage` view with `WHERE id = ?`, and the
whole `factory audit RUN_DIR lineage ID` command in a fresh process. About 45 s and 1.5 GB of disk to
build; DuckDB's memory is capped at 8 GB.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from factory.report.audit import connect  # noqa: E402
from factory.report.questions import lineage  # noqa: E402
from factory.store.provenance import DDL, PROVENANCE_DB  # noqa: E402

TARGET_MS = 100.0
N = 8  # samples per problem
PUBLISHED_OF_32 = 25  # samples published per 32; the others rejected

_BUILD = """
INSERT INTO runs VALUES ('bench-run', 'bench', '{{"name": "bench"}}', 'c0ffee', TIMESTAMP '2026-01-01 00:00:00');
INSERT INTO sessions
SELECT 'sess-' || s, TIMESTAMP '2026-01-01 00:00:00' + INTERVAL (s * 6) HOUR,
       CASE WHEN s < 3 THEN TIMESTAMP '2026-01-01 05:00:00' + INTERVAL (s * 6) HOUR END,
       'factory run pipelines/bench.yaml --out runs/bench', 'abc123', '0.1.0', s * 3
FROM range(4) t(s);
INSERT INTO sources VALUES
    ('main', 'train', 'hf', 'owner/main', NULL, 'train', 'v1', NULL, 'mit', 'pipeline', {problems}),
    ('bench', 'decontaminate', 'hf', 'owner/bench', NULL, 'test', NULL, NULL, NULL, NULL, 500);
CREATE TEMP TABLE p AS
SELECT k, substr(md5('p' || k), 1, 16) AS problem_id,
       'Problem ' || k || ': ' || array_to_string(list_transform(range(8), lambda x: md5(k || ':' || x)), ' ')
           AS problem,
       CAST(k % 997 AS VARCHAR) AS answer
FROM range({problems}) t(k);
INSERT INTO problems
SELECT 'main', CAST(k AS VARCHAR), problem_id, problem, answer, 'Worked solution ' || md5('s' || k),
       CASE WHEN k % 5000 = 7 THEN 'contaminated' ELSE 'ok' END, NULL, NULL, NULL,
       CASE WHEN k % 5000 = 7 THEN 'bench:' || (k % 500) END
FROM p;
INSERT INTO problems  -- every 20th problem has a dropped copy (exact or near)
SELECT 'main', CAST({problems} + k AS VARCHAR), CASE WHEN k % 40 = 0 THEN problem_id ELSE md5('d' || k)[1:16] END,
       problem || ' ', answer, NULL, 'duplicate', 'main:' || k, CASE WHEN k % 40 = 0 THEN 1.0 ELSE 0.91 END,
       'first_seen', NULL
FROM p WHERE k % 20 = 0;
INSERT INTO contaminated_by
SELECT 'main', CAST(k AS VARCHAR), 'bench', CAST(k % 500 AS VARCHAR), 'ngram', 0.93 FROM p WHERE k % 5000 = 7;
CREATE TEMP TABLE s AS
SELECT k, i, k * {n} + i AS j, problem_id, substr(md5(problem_id || ':' || i), 1, 24) AS sample_id,
       (k * {n} + i) % 32 < {published_of_32} AND k % 5000 <> 7 AS published
FROM p, range({n}) t(i);
INSERT INTO requests
SELECT s.sample_id, s.problem_id, s.i, 'sess-' || (s.k * 4 // {problems}),
       'teacher-r1', CASE WHEN s.j % 3 = 0 THEN 'http://gpu:8000/v1' ELSE 'https://api.example/v1' END,
       to_json([{{'role': 'system', 'content': 'You are a careful mathematician.'}},
                {{'role': 'user', 'content': p.problem || ' ' || array_to_string(list_transform(range(18),
                   lambda x: md5(p.k || '/' || x)), ' ') || chr(10) || chr(10)
                   || 'Please reason step by step, and put your final answer within \\boxed{{}}.'}}]),
       '{{"max_tokens": 32768, "seed": 1234, "temperature": 0.6, "top_p": 0.95}}', 'tmplhash', 1 + (s.j % 7 = 0)::INT,
       CASE WHEN s.j % 97 = 5 THEN 'truncated_reasoning' ELSE 'complete' END, NULL, NULL,
       CASE WHEN s.j % 97 = 5 THEN 'length' ELSE 'stop' END, 'think_tags', s.j % 97 <> 5,
       180 + s.k % 50, 2000 + s.j % 9000, 1700 + s.j % 8000,
       TIMESTAMP '2026-01-01 00:00:00' + INTERVAL (s.j // 50) SECOND,
       TIMESTAMP '2026-01-01 00:00:30' + INTERVAL (s.j // 50) SECOND, 30.0
FROM s JOIN p USING (k);
INSERT INTO verdicts
SELECT sample_id, problem_id, published OR j % 5 = 1, CASE WHEN published OR j % 5 = 1 THEN 'correct'
       ELSE 'wrong_answer' END, CAST(k % 997 AS VARCHAR), md5('t' || sample_id)[1:16], 200, 1700 + j % 8000, 60,
       1960 + j % 8000, 1990 + j % 8000, 1.5, CASE WHEN published THEN 'published' ELSE 'rejected' END,
       CASE WHEN published THEN 'correct' WHEN k % 5000 = 7 THEN 'problem_contaminated'
            WHEN j % 5 = 1 THEN 'duplicate_trace' ELSE 'wrong_answer' END
FROM s;
INSERT INTO outcomes SELECT sample_id, status, final_reason, NULL FROM verdicts;
INSERT INTO published
SELECT sample_id, problem_id, 'data/' || b || 'k/train-' || lpad(CAST(shard AS VARCHAR), 5, '0') || '-of-00100.parquet',
       row_number() OVER (PARTITION BY b, shard ORDER BY j) - 1
FROM (SELECT *, [8, 16, 24, 32][1 + j % 4] AS b, (j // 4) % 100 AS shard FROM s WHERE published)
ORDER BY j;
INSERT INTO endpoint_costs VALUES
    ('http://gpu:8000/v1', 0, 0, 0, 0, 0, 0, 120.0, 480.0, NULL),
    ('https://api.example/v1', 0, 0, 0, 0, 0, 0, 0.0, 9000.0, NULL);
"""


def build(db: Path, published: int) -> dict:
    """The synthetic provenance database; its counts."""
    problems = -(-published * 32 // (N * PUBLISHED_OF_32))
    problems += problems // 4000 + 1  # the contaminated ones publish nothing
    con = duckdb.connect(str(db), config={"memory_limit": "8GB", "preserve_insertion_order": False})
    try:
        con.execute(DDL)
        con.execute(_BUILD.format(problems=problems, n=N, published_of_32=PUBLISHED_OF_32))
        con.execute("CHECKPOINT")
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("problems", "requests", "verdicts", "published")}
    finally:
        con.close()


def _ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _summary(name: str, cold: float, warm: list[float]) -> None:
    warm = sorted(warm)
    p50, p99 = statistics.median(warm), warm[min(len(warm) - 1, int(len(warm) * 0.99))]
    print(f"{name}: cold {cold:.1f} ms, warm p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {warm[-1]:.2f} ms "
          f"over {len(warm)} ids; target {TARGET_MS:.0f} ms: cold {cold / TARGET_MS:.3f}x, "
          f"p99 {p99 / TARGET_MS:.4f}x of the target")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--published", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--keep", type=Path, help="build into this directory and keep it (reused if it exists)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-lineage-") as tmp:
        run_dir = args.keep or Path(tmp)
        run_dir.mkdir(parents=True, exist_ok=True)
        db = run_dir / PROVENANCE_DB
        if not db.exists():
            started = time.perf_counter()
            counts = build(db, args.published)
            print(f"built {db} in {time.perf_counter() - started:.1f} s: {counts}, "
                  f"{db.stat().st_size / 2**20:.0f} MiB")
        ids = [r[0] for r in duckdb.connect(str(db), read_only=True).execute(
            f"SELECT sample_id FROM published USING SAMPLE reservoir({args.queries + 1} ROWS) REPEATABLE (7)"
        ).fetchall()]
        random.Random(7).shuffle(ids)

        con = connect(run_dir)  # as `factory audit` opens it
        cold = _ms(lambda: lineage(con, ids[0]))
        warm = [_ms(lambda i=i: lineage(con, i)) for i in ids[1:]]
        con.close()
        _summary("lineage question (point lookups)", cold, warm)
        answer = lineage(connect(run_dir), ids[0])
        print(f"  e.g. {ids[0]}: {answer['location']}, problem {answer['problem']['problem_id']}, "
              f"{len(answer['duplicates_dropped'])} duplicates dropped, "
              f"{len(answer['request']['messages'][1]['content'])}-char prompt")

        con = connect(run_dir)
        view = "SELECT * FROM lineage WHERE id = ?"
        cold = _ms(lambda: con.execute(view, [ids[0]]).fetchall())
        warm = [_ms(lambda i=i: con.execute(view, [i]).fetchall()) for i in ids[1:max(2, len(ids) // 4)]]
        con.close()
        _summary("lineage view WHERE id = ? (for comparison)", cold, warm)

        # the whole command in a fresh process, as a user types it: interpreter, imports, connection, question
        cmd = [sys.executable, "-m", "factory.cli", "audit", str(run_dir), "lineage", ids[1], "--json"]
        walls = [_ms(lambda: subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)) for _ in range(3)]
        print(f"`factory audit RUN_DIR lineage ID --json` in a fresh process: {min(walls):.0f}-{max(walls):.0f} ms "
              "wall (Python start and imports included; not what the target measures)")


if __name__ == "__main__":
    main()
