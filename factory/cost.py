"""What a run spent, per endpoint: tokens, GPU time, dollars, and dollars per published sample.

Every journaled result counts, including samples asked again (a raised budget, --retry-failed):
they were paid for. Token prices apply per request; a GPU-hour price applies to the wall time each
session used the endpoint (first request sent to last answer), since a self-hosted server costs the
same whether it is busy or not.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from factory.config import PriceConfig
from factory.redact import public_endpoint
from factory.rundir import write_atomic


PRICES_FILE = "prices.json"


def record_prices(run_dir: Path, endpoints) -> dict[str, PriceConfig]:
    """Add this session's endpoints and prices to RUN_DIR/prices.json; return all of them.

    Prices are keyed by the public URL the journal records, resolved for this session (from the
    environment, the command line, or the simulated teacher's port), so later `status` and provenance
    price every session's requests at what was configured when they were made.
    """
    path = Path(run_dir) / PRICES_FILE
    known = json.loads(path.read_text()) if path.exists() else {}
    for e in endpoints:
        if e.price is not None:
            known[public_endpoint(e.base_url)] = e.price.model_dump()
    write_atomic(path, json.dumps(known, indent=2, sort_keys=True))
    return load_prices(run_dir)


def load_prices(run_dir: Path) -> dict[str, PriceConfig]:
    path = Path(run_dir) / PRICES_FILE
    if not path.exists():
        return {}
    return {url: PriceConfig.model_validate(p) for url, p in json.loads(path.read_text()).items()}


def token_usd(price: PriceConfig | None, prompt_tokens: int | None, completion_tokens: int | None) -> float:
    """Dollars for tokens at a token price (GPU-hour prices are charged per session, not here)."""
    if price is None:
        return 0.0
    return ((prompt_tokens or 0) * price.input_per_mtok + (completion_tokens or 0) * price.output_per_mtok) / 1e6


def run_costs(run_dir: Path, published: int) -> list[dict]:
    """`endpoint_costs` of everything a run's journal holds, at the prices its sessions recorded."""
    from factory.journal import iter_index

    return endpoint_costs(iter_index(run_dir), load_prices(run_dir), published)


def endpoint_costs(records: Iterable[dict], prices: dict[str, PriceConfig], published: int) -> list[dict]:
    """One row per endpoint (the `endpoint_costs` provenance table)."""
    rows: dict[str, dict] = defaultdict(lambda: dict(samples=0, attempts=0, prompt_tokens=0, completion_tokens=0,
                                                     reasoning_tokens=0))
    spans: dict[tuple[str, str], list[float]] = {}
    for r in records:
        row = rows[r["endpoint"]]
        row["samples"] += 1
        row["attempts"] += r["attempts"]
        for k in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
            row[k] += r.get(k) or 0
        span = spans.setdefault((r["endpoint"], r["session_id"]), [r["started_at"], r["finished_at"]])
        span[0], span[1] = min(span[0], r["started_at"]), max(span[1], r["finished_at"])
    out = []
    for endpoint, row in sorted(rows.items()):
        hours = sum(b - a for (e, _), (a, b) in spans.items() if e == endpoint) / 3600
        price = prices.get(endpoint) or PriceConfig()
        usd = token_usd(price, row["prompt_tokens"], row["completion_tokens"]) + hours * price.gpu_hour
        out.append(dict(endpoint=endpoint, **row, gpu_hours=hours, usd=usd))
    total = sum(r["usd"] for r in out)
    for r in out:
        r["usd_per_published"] = total / published if published else None
    return out
