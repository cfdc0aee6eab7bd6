"""What a run spent, per endpoint: tokens, GPU time, dollars, and dollars per published sample.

Every journaled result counts, including samples asked again (a raised budget, --retry-failed):
they were paid for. Token prices apply per request; a GPU-hour price applies to the wall time each
session used the endpoint (first request sent to last answer), since a self-hosted server costs the
same whether it is busy or not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from factory.config import PipelineConfig, PriceConfig
from factory.redact import public_endpoint


ANY = "*"  # key of the price that applies to an endpoint not listed by URL


def prices_of(cfg: PipelineConfig) -> dict[str, PriceConfig]:
    """Public endpoint URL -> price, from the pipeline file (endpoints without a price are free).

    `teacher.price` is the price of the single endpoint (a base_url, from the environment or the
    command line, or the simulated teacher), whatever its URL turns out to be.
    """
    teacher = cfg.teacher
    prices = {public_endpoint(e.url): e.price for e in teacher.endpoints if e.url and e.price}
    if teacher.price and not teacher.endpoints:
        prices[ANY] = teacher.price
    return prices


def price_for(prices: dict[str, PriceConfig], endpoint: str) -> PriceConfig | None:
    return prices.get(endpoint) or prices.get(ANY)


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
        price = price_for(prices, endpoint) or PriceConfig()
        usd = (row["prompt_tokens"] * price.input_per_mtok + row["completion_tokens"] * price.output_per_mtok) / 1e6
        out.append(dict(endpoint=endpoint, **row, gpu_hours=hours, usd=usd + hours * price.gpu_hour))
    total = sum(r["usd"] for r in out)
    for r in out:
        r["usd_per_published"] = total / published if published else None
    return out
