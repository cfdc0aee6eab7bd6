"""What a run spent, per endpoint: tokens, GPU time, dollars, and dollars per published sample.

Tokens are split the way they are paid for and used: prompt, reasoning and answer (the completion
less its reasoning, as the endpoint reports `completion_tokens_details.reasoning_tokens`).

Every journaled result counts, including samples asked again (a raised budget, --retry-failed):
they were paid for. Token prices apply per request; a GPU-hour price applies to the wall time each
session used the endpoint (first request sent to last answer), since a self-hosted server costs the
same whether it is busy or not. A replica the factory started itself (`teacher.serve`) is charged for
its whole lifetime instead, startup to stop with its restarts (`REPLICAS_FILE`), at its hourly price: its
GPUs times `gpu_hour` (see `factory.teacher.endpoint.serving_endpoints`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from factory.config import PriceConfig
from factory.redact import public_endpoint
from factory.store.rundir import write_atomic

PRICES_FILE = "prices.json"
# one line per replica a session started (`teacher.serve`): its endpoint, GPUs and lifetime, for the cost
REPLICAS_FILE = "replicas.jsonl"
# what batch mode's records name as their endpoint: the API's URL and this, priced at its batch price
BATCH_SUFFIX = "#batch"
_TOKEN_PRICES = {"input_per_mtok", "output_per_mtok"}


def batch_endpoint(url: str) -> str:
    """The endpoint a sample asked through the Batch API of `url` is journaled (and priced) under."""
    return public_endpoint(url) + BATCH_SUFFIX


def record_prices(run_dir: Path, endpoints, batch: bool = False) -> dict[str, PriceConfig]:
    """Add this session's endpoints and prices to RUN_DIR/prices.json; return all of them.

    Prices are keyed by the public URL the journal records, resolved for this session (from the
    environment, the command line, or the simulated teacher's port), so later `status` and provenance
    price every session's requests at what was configured when they were made. With `batch`
    (teacher.mode: batch) each also gets its batch price under `batch_endpoint(url)`.
    """
    path = Path(run_dir) / PRICES_FILE
    known = json.loads(path.read_text()) if path.exists() else {}
    for e in endpoints:
        if e.price is not None:
            known[public_endpoint(e.base_url)] = e.price.model_dump()
            if batch:
                known[batch_endpoint(e.base_url)] = e.price.batch_price().model_dump(include=_TOKEN_PRICES)
    write_atomic(path, json.dumps(known, indent=2, sort_keys=True))
    return load_prices(run_dir)


def load_prices(run_dir: Path) -> dict[str, PriceConfig]:
    path = Path(run_dir) / PRICES_FILE
    if not path.exists():
        return {}
    return {url: PriceConfig.model_validate(p) for url, p in json.loads(path.read_text()).items()}


def record_replicas(run_dir: Path, session_id: str, lifetimes: list[dict]) -> None:
    """Append this session's replicas (`teacher.serve`) and how long each held its GPUs to RUN_DIR/replicas.jsonl."""
    if not lifetimes:
        return
    with open(Path(run_dir) / REPLICAS_FILE, "a", encoding="utf-8") as f:
        for r in lifetimes:
            f.write(json.dumps(dict(r, session_id=session_id,
                                    endpoint=r["endpoint"] and public_endpoint(r["endpoint"]))) + "\n")
        f.flush()


def load_replicas(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / REPLICAS_FILE
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line torn by a crash: that session's replicas go uncharged
            continue
    return out


def token_usd(price: PriceConfig | None, prompt_tokens: int | None, completion_tokens: int | None) -> float:
    """Dollars for tokens at a token price (GPU-hour prices are charged per session, not here)."""
    if price is None:
        return 0.0
    return ((prompt_tokens or 0) * price.input_per_mtok + (completion_tokens or 0) * price.output_per_mtok) / 1e6


def gpu_usd(price: PriceConfig | None, hours: float) -> float:
    """Dollars for the wall time an endpoint was used at its GPU-hour price.

    `gpu_hour` is the price of the whole endpoint (all the GPUs behind its URL) per hour, so this is
    hours x gpu_hour; `factory.meter.progress` uses the same function for its live figure. A replica the
    factory started (`teacher.serve`) is recorded at its GPUs times the configured (per GPU) `gpu_hour`.
    """
    return hours * price.gpu_hour if price is not None else 0.0


def answer_tokens(completion_tokens: int | None, reasoning_tokens: int | None) -> int:
    """Completion tokens that are not reasoning: completion - reasoning, never negative.

    An endpoint that reports no reasoning count (None) gets all its completion counted as answer.
    """
    return max((completion_tokens or 0) - (reasoning_tokens or 0), 0)


def run_costs(run_dir: Path, published: int) -> list[dict]:
    """`endpoint_costs` of everything a run's journal holds, at the prices its sessions recorded."""
    from factory.store.journal import iter_index

    return endpoint_costs(iter_index(run_dir), load_prices(run_dir), published, load_replicas(run_dir))


def widen(spans: dict, key, start: float, end: float) -> None:
    """Stretch `spans[key]` ([first start, last finish]) over one request: the time an endpoint was used."""
    span = spans.setdefault(key, [start, end])
    span[0], span[1] = min(span[0], start), max(span[1], end)


def endpoint_costs(records: Iterable[dict], prices: dict[str, PriceConfig], published: int,
                   replicas: Iterable[dict] = ()) -> list[dict]:
    """One row per endpoint (the `endpoint_costs` provenance table).

    `replicas` (`load_replicas`): in a session that started an endpoint's server itself, the hours it is
    charged for are its lifetime, in place of the span of its requests.
    """
    rows: dict[str, dict] = defaultdict(lambda: dict(samples=0, attempts=0, prompt_tokens=0, completion_tokens=0,
                                                     reasoning_tokens=0, answer_tokens=0))
    unreported: dict[str, int] = defaultdict(int)
    spans: dict[tuple[str, str], list[float]] = {}
    for r in records:
        row = rows[r["endpoint"]]
        row["samples"] += 1
        row["attempts"] += r["attempts"]
        for k in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
            row[k] += r.get(k) or 0
        # per record, so one odd count (reasoning above completion) takes nothing from the others
        row["answer_tokens"] += answer_tokens(r.get("completion_tokens"), r.get("reasoning_tokens"))
        unreported[r["endpoint"]] += bool(r.get("completion_tokens")) and r.get("reasoning_tokens") is None
        widen(spans, (r["endpoint"], r["session_id"]), r["started_at"], r["finished_at"])
    owned: dict[tuple[str, str], float] = defaultdict(float)  # seconds the replicas behind an endpoint lived
    for r in replicas:
        if not r.get("endpoint"):  # never came up: no URL, and the session failed at start
            continue
        owned[(r["endpoint"], r["session_id"])] += max(0.0, r["stopped_at"] - r["started_at"])
        rows[r["endpoint"]]  # a replica that served nothing still cost its GPUs
    for key, seconds in owned.items():
        spans[key] = [0.0, seconds]
    out = []
    for endpoint, row in sorted(rows.items()):
        hours = sum(b - a for (e, _), (a, b) in spans.items() if e == endpoint) / 3600
        price = prices.get(endpoint) or PriceConfig()
        usd = token_usd(price, row["prompt_tokens"], row["completion_tokens"]) + gpu_usd(price, hours)
        # reasoning_unreported: replies whose endpoint gave no reasoning count (counted as answer)
        out.append(dict(endpoint=endpoint, **row, gpu_hours=hours, usd=usd,
                        reasoning_unreported=unreported[endpoint]))
    total = sum(r["usd"] for r in out)
    for r in out:
        r["usd_per_published"] = total / published if published else None
    return out


def cost_totals(rows: list[dict], published: int) -> dict:
    """The whole run over `endpoint_costs` rows: tokens by kind, GPU hours, dollars, $ per published sample.

    A published sample is an accepted, verified one (correct, past every filter and dedup).
    """
    usd = sum(r["usd"] for r in rows)
    totals = {k: sum(r[k] for r in rows) for k in ("prompt_tokens", "reasoning_tokens", "answer_tokens",
                                                    "completion_tokens")}
    return dict(totals, gpu_hours=sum(r["gpu_hours"] for r in rows), usd=usd, published=published,
                usd_per_published=usd / published if published else None)
