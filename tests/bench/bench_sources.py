"""Reading a large source: materialized vs streamed, whole vs `limit`, flat columns vs nested field paths.

    python tests/bench/bench_sources.py [--rows 200000] [--limit 1000]

Writes a verl-layout Parquet of `--rows` made-up problems (and the same rows with flat columns) to a
temporary directory, then times `load_source` over it in a fresh HF cache each time, so no pass is
answered by an earlier one's Arrow cache. Prints seconds, rows/s and what the case wrote to that cache
(a materialized source is converted to an Arrow copy there first; a streamed one writes nothing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from factory.config import SourceConfig  # noqa: E402
from factory.stages.sources import load_source  # noqa: E402

NESTED = {"problem": "prompt[-1].content", "answer": "reward_model.ground_truth", "id": "extra_info.index"}
FLAT = {"problem": "problem", "answer": "answer", "id": "index"}


def write(tmp: Path, rows: int) -> tuple[Path, Path]:
    filler = "Let x be a real number such that the expression below holds; find x. " * 4
    problems = [f"Problem {k}: {filler}" for k in range(rows)]
    answers = [str(k % 997) for k in range(rows)]
    nested = pa.table({
        "prompt": [[{"role": "user", "content": p}] for p in problems],
        "reward_model": [{"ground_truth": a, "style": "rule"} for a in answers],
        "extra_info": [{"index": k, "split": "train"} for k in range(rows)],
    })
    flat = pa.table({"problem": problems, "answer": answers, "index": list(range(rows))})
    pq.write_table(nested, tmp / "verl.parquet", row_group_size=10_000)
    pq.write_table(flat, tmp / "flat.parquet", row_group_size=10_000)
    return tmp / "verl.parquet", tmp / "flat.parquet"


def mib(directory: Path) -> float:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**20 if directory.exists() else 0.0


def measure(name: str, cfg: SourceConfig, tmp: Path) -> None:
    import datasets

    cache = tmp / f"cache-{name}"
    datasets.config.HF_DATASETS_CACHE = cache  # a cold cache for every case
    t0 = time.perf_counter()
    n = sum(1 for _ in load_source(cfg))
    took = time.perf_counter() - t0
    print(f"{name:<38} {n:>8} rows {took:>8.2f} s {n / took:>10.0f} rows/s   cache written {mib(cache):>6.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        verl, flat = write(tmp, args.rows)
        print(f"{args.rows} rows, {verl.stat().st_size / 2**20:.1f} MiB verl Parquet; limit {args.limit}")
        for streaming in (False, True):  # the first load of each kind pays for imports, not for reading
            cfg = SourceConfig(name="b", kind="parquet", path=str(flat), fields=FLAT, limit=1, streaming=streaming)
            measure(f"warm-up (imports, streaming={streaming})", cfg, tmp)
        cases = [
            ("streamed, limit, nested paths", dict(path=str(verl), fields=NESTED, streaming=True, limit=args.limit)),
            ("materialized, limit, nested paths", dict(path=str(verl), fields=NESTED, limit=args.limit)),
            ("streamed, all rows, nested paths", dict(path=str(verl), fields=NESTED, streaming=True)),
            ("materialized, all rows, nested", dict(path=str(verl), fields=NESTED)),
            ("materialized, all rows, flat", dict(path=str(flat), fields=FLAT)),
        ]
        for name, kw in cases:
            measure(name.replace(" ", "-").replace(",", ""), SourceConfig(name="b", kind="parquet", **kw), tmp)


if __name__ == "__main__":
    main()
