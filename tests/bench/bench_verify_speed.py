"""Benchmark: our verifier (`factory.verify.verify`) side by side with Hugging Face math-verify.

    python tests/bench/bench_verify_speed.py [--pairs 6000] [--seed 0] [--quick] [--adversarial] [--no-adversarial]
        [--mv-kill-s 30] [--mv-mem-gib 4]

Speed (default first): a seeded synthetic mix of (reference, response, intended label) pairs from
`verify_mix.py` (integers, decimals, fractions, percents, radicals/pi, symbolic, equations, intervals,
sets/tuples, matrices, text/multiple choice, multi-KB `<think>` traces), about half meant equivalent.
Both verifiers see the same pairs in the same process pinned to one CPU core, alternating which goes
first per pair so drift on a shared machine hits both alike. Per category and overall it prints
pairs/s (pairs / summed per-pair wall time), ours/math-verify, p99 and max latency per pair, the
agreement between the two, and how many verdicts of each match the intended label; then every pair
where OUR verdict differs from the intended label, and a few of math-verify's. math-verify is called as
its README shows: `verify(parse("$gold$"), parse(response))`, default extraction configs and its default
5 s signal timeouts (so it runs in the main thread). Both parse the reference on every pair; a warm-up
mix (another seed) runs first so imports, caches and our sympy worker's start are not timed.

Adversarial (`--adversarial` runs only this; it also runs after the speed table unless
`--no-adversarial`): hostile inputs (power towers, 10^{10^8}, (10^7)!, huge binomials, 2000 nested
parentheses, 10^6-digit numbers, a megabyte trace with thousands of boxes, deeply nested \\frac, a huge
\\underbrace, ...) both as reference-vs-response and as the response to a plain reference. Ours runs
in this process; per input it prints time and reason code, then the slowest time and peak RSS
(ru_maxrss of this process and of its reaped children, i.e. the sympy worker). math-verify runs each
input in its own subprocess with a hard wall-clock kill (--mv-kill-s) and RLIMIT_AS (--mv-mem-gib), so a
hang or blow-up cannot take the benchmark down; per input it prints time and outcome.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict

from verify_mix import CATEGORIES, make_mix  # tests/bench/verify_mix.py (the script's own folder)

from factory.verify import verify


def mv_check(reference: str, response: str) -> bool:
    """math-verify the way its README does it: the gold in `$...$` so LaTeX extraction applies."""
    from math_verify import parse
    from math_verify import verify as mv_verify

    gold = parse(f"${reference}$", parsing_timeout=5)
    return mv_verify(gold, parse(response, parsing_timeout=5), timeout_seconds=5)


def pin_one_core() -> str:
    """Pin this process (and children it starts, like our sympy worker) to one CPU."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


# --- speed ---------------------------------------------------------------------------------------


def run_speed(n: int, seed: int) -> None:
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its timeout warnings would flood the table
    pairs = make_mix(n, seed)
    for p in make_mix(60, seed + 1):  # warm-up: imports, regex compilation, caches
        verify(p.reference, p.response), mv_check(p.reference, p.response)
    from fractions import Fraction

    from factory.verify.sandbox import simplify_equal

    one = ("num", Fraction(1))
    simplify_equal(one, one, 30.0)  # start the sympy worker now, as a long-running pipeline would have

    lat = {"ours": defaultdict(list), "mv": defaultdict(list)}
    got = {"ours": [], "mv": []}
    reasons = []
    for i, p in enumerate(pairs):
        for side in ("ours", "mv") if i % 2 == 0 else ("mv", "ours"):
            t = time.perf_counter()
            if side == "ours":
                v = verify(p.reference, p.response)
                ok = v.correct
                reasons.append(v)
            else:
                ok = mv_check(p.reference, p.response)
            dt = time.perf_counter() - t
            lat[side][p.category].append(dt)
            lat[side]["ALL"].append(dt)
            got[side].append(ok)

    print(f"\n== speed: {n} pairs (seed {seed}), one core, per-pair wall time ==")
    head = (
        f"{'category':<12} {'n':>5} {'ours/s':>9} {'mv/s':>7} {'ratio':>7} {'ours p99':>9} {'ours max':>9}"
        f" {'mv p99':>8} {'mv max':>8} {'agree':>6} {'ours=lbl':>9} {'mv=lbl':>7}"
    )
    print(head)
    print("-" * len(head))
    for cat in [*CATEGORIES, "ALL"]:
        idx = [i for i, p in enumerate(pairs) if cat in ("ALL", p.category)]
        if not idx:
            continue
        lo, lm = lat["ours"][cat], lat["mv"][cat]
        ro, rm = len(lo) / sum(lo), len(lm) / sum(lm)
        agree = sum(got["ours"][i] == got["mv"][i] for i in idx)
        ok_o = sum(got["ours"][i] == pairs[i].label for i in idx)
        ok_m = sum(got["mv"][i] == pairs[i].label for i in idx)
        print(
            f"{cat:<12} {len(idx):>5} {ro:>9.0f} {rm:>7.1f} {ro / rm:>6.0f}x"
            f" {1e3 * pct(lo, 0.99):>7.2f}ms {1e3 * max(lo):>7.2f}ms"
            f" {1e3 * pct(lm, 0.99):>6.1f}ms {1e3 * max(lm):>6.0f}ms {agree / len(idx):>6.1%}"
            f" {ok_o:>4}/{len(idx):<4} {ok_m:>4}/{len(idx):<4}"
        )
    labels = sum(p.label for p in pairs)
    print(f"intended labels: {labels} equivalent, {n - labels} not")

    wrong = {}
    for i, p in enumerate(pairs):
        if got["ours"][i] != p.label:
            key = (p.reference, reasons[i].predicted, p.label)
            wrong.setdefault(key, [p.category, reasons[i].reason, got["mv"][i], 0])[3] += 1
    wrong_pairs = sum(w[3] for w in wrong.values())
    print(f"\nOUR verdicts that differ from the intended label: {wrong_pairs} pairs, {len(wrong)} distinct")
    for (ref, pred, label), (cat, reason, mv, count) in wrong.items():
        print(f"  [{cat}] ref={ref!r} predicted={pred!r} expected={label} got={reason} (math-verify: {mv}) x{count}")
    mv_wrong = [
        (p.category, p.reference, p.response[-60:], p.label) for i, p in enumerate(pairs) if got["mv"][i] != p.label
    ]
    print(f"math-verify verdicts that differ from the intended label: {len(mv_wrong)} pairs; first 10 distinct:")
    for row in list(dict.fromkeys(mv_wrong))[:10]:
        print(f"  [{row[0]}] ref={row[1]!r} response=...{row[2]!r} expected={row[3]}")


# --- adversarial ---------------------------------------------------------------------------------


def hostile_inputs() -> list[tuple[str, str, str]]:
    """(name, reference, a different-looking but equal answer): equal values force a full comparison."""
    nested = "(" * 2000 + "7" + ")" * 2000
    frac = "\\frac{1}{" * 1000 + "2" + "}" * 1000  # an even depth of reciprocals: the value is 2
    hilbert = "\\\\".join("&".join(f"\\frac{{1}}{{{i + j + 1}}}" for j in range(100)) for i in range(100))
    boxes = " ".join(f"maybe \\boxed{{{k}}}?" for k in range(60_000))  # about 1 MB
    return [
        ("power tower 9^9^9^9", "9^{9^{9^9}}", "3^{2\\cdot 9^{9^{9}}}"),
        ("2^2^2^2^2^2", "2^{2^{2^{2^{2^2}}}}", "2^{2^{65536}}"),
        ("10^{10^8}", "10^{10^8}", "100^{5\\cdot 10^7}"),
        ("(10^7)!", "(10^7)!", "10000000!"),
        ("binom(10^9, 5*10^8)", "\\binom{10^9}{5\\cdot 10^8}", "\\binom{1000000000}{500000000}"),
        ("e^e^e^e^e", "e^{e^{e^{e^{e}}}}", "\\exp(e^{e^{e^{e}}})"),
        ("sin(10^{10^10})", "\\sin(10^{10^{10}})", "\\sin(10^{10000000000})"),
        ("(x+1)^{10^6}", "(x+1)^{1000000}", "(1+x)^{10^6}"),
        ("(x+y)^{300} expanded vs not", "(x+y)^{300}-(x-y)^{300}", "-(x-y)^{300}+(y+x)^{300}"),
        ("2000 nested parentheses", nested, "7"),
        ("10^6-digit number", "9" * 10**6, "10^{1000000}-1"),
        ("10^5-digit decimal", "0." + "3" * 10**5, "\\frac{1}{3}"),
        ("1000-deep \\frac", frac, "2"),
        ("huge \\underbrace", "\\underbrace{" + "1+" * 100_000 + "1}_{100001}", "100001"),
        ("10^5 unclosed braces", "\\boxed{" + "{" * 100_000 + "1", "1"),
        ("100x100 matrix", f"\\begin{{pmatrix}}{hilbert}\\end{{pmatrix}}", "0"),
        ("1 MB trace, 60k boxes", f"<think>{boxes}</think> so \\boxed{{42}}", "42"),
        ("1 MB trace, 60k boxes, no think", boxes + " \\boxed{42}", "42"),
    ]


def adversarial_cases(quick: bool) -> list[tuple[str, str, str]]:
    """(label, reference, response): each input as the response to '42', and (full run) against its twin."""
    cases = []
    for name, ref, twin in hostile_inputs():
        as_response = ref if "\\boxed" in ref else f"The answer is $\\boxed{{{ref}}}$."
        cases.append((f"{name} | as response", "42", as_response))
        if not quick:
            cases.append((f"{name} | ref vs resp", ref, f"The answer is $\\boxed{{{twin}}}$."))
    return cases


def mv_child() -> None:
    """Run math-verify on one JSON {reference, response} from stdin; print a JSON result line."""
    cap = int(os.environ["MV_MEM_BYTES"])
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    sys.setrecursionlimit(100_000)  # as a long-running process might; the kill and the cap bound the damage
    job = json.loads(sys.stdin.read())
    notes = []

    class Note(logging.Handler):  # math-verify swallows errors into log records; keep what they were
        def emit(self, record):
            exc = record.exc_info[1] if record.exc_info else None
            notes.append(type(exc).__name__ if exc else record.getMessage()[:40])

    log = logging.getLogger("math_verify")
    log.addHandler(Note())
    log.setLevel(logging.DEBUG)
    log.propagate = False
    import math_verify  # noqa: F401 - imported before the clock starts

    t = time.perf_counter()
    try:
        result = mv_check(job["reference"], job["response"])
    except MemoryError:
        result = "MemoryError"
    except Exception as e:  # noqa: BLE001 - RecursionError and friends: report, do not crash silently
        result = type(e).__name__
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {"result": result, "seconds": time.perf_counter() - t, "notes": sorted(set(notes)), "rss_mb": rss_mb}
    print(json.dumps(report))


def run_mv_isolated(reference: str, response: str, kill_s: float, mem_bytes: int) -> tuple[float, str]:
    env = {**os.environ, "MV_MEM_BYTES": str(mem_bytes)}
    t = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--mv-child"],
            input=json.dumps({"reference": reference, "response": response}),
            capture_output=True, text=True, timeout=kill_s, env=env, check=False,
        )
    except subprocess.TimeoutExpired:  # subprocess.run has already killed the child
        return time.perf_counter() - t, f"TIMEOUT-KILLED at {kill_s:.0f}s"
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        err = proc.stderr.strip().splitlines()
        why = "MemoryError" if "MemoryError" in proc.stderr else (err[-1][:60] if err else f"rc {proc.returncode}")
        return time.perf_counter() - t, f"DIED ({why})"
    out = json.loads(lines[-1])
    notes = f" [logged: {', '.join(out['notes'])[:70]}]" if out["notes"] else ""
    return out["seconds"], f"ok, verdict {out['result']}, peak RSS {out['rss_mb']:.0f} MB{notes}"


def run_adversarial(quick: bool, kill_s: float, mem_gib: float) -> None:
    from factory.verify import sandbox

    cases = adversarial_cases(quick)
    print(f"\n== adversarial: ours in this process ({len(cases)} cases) ==")
    self_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    slowest = (0.0, "")
    for label, ref, resp in cases:
        print(f"  {label:<48}", end=" ", flush=True)  # flushed first so a hang shows which input
        t = time.perf_counter()
        v = verify(ref, resp)
        dt = time.perf_counter() - t
        slowest = max(slowest, (dt, label))
        print(f"{1e3 * dt:>9.1f} ms  {v.reason}")
    sandbox.shutdown()  # reap the sympy worker so RUSAGE_CHILDREN includes it (before any math-verify child)
    self_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"ours slowest: {1e3 * slowest[0]:.1f} ms ({slowest[1]})")
    print(
        f"ours peak RSS: this process {self_before / 1024:.0f} MB before the adversarial inputs,"
        f" {self_after / 1024:.0f} MB after"
        " (includes math-verify/sympy if the speed run came first);"
        f" largest reaped child (sympy worker) {children / 1024:.0f} MB"
    )

    print(
        f"\n== adversarial: math-verify, one subprocess per case, kill at {kill_s:.0f}s, RLIMIT_AS {mem_gib:g} GiB =="
    )
    for label, ref, resp in cases:
        print(f"  {label:<48}", end=" ", flush=True)
        dt, outcome = run_mv_isolated(ref, resp, kill_s, int(mem_gib * 2**30))
        print(f"{1e3 * dt:>9.1f} ms  {outcome}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="300 pairs; adversarial inputs only as responses, 10 s kill")
    ap.add_argument("--adversarial", action="store_true", help="only the adversarial run")
    ap.add_argument("--no-adversarial", action="store_true", help="only the speed run")
    ap.add_argument(
        "--mv-kill-s", type=float, default=None, help="math-verify hard kill per input (default 30, quick 10)"
    )
    ap.add_argument("--mv-mem-gib", type=float, default=4.0)
    ap.add_argument("--mv-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mv_child:
        return mv_child()
    print(pin_one_core())
    if not args.adversarial:
        run_speed(300 if args.quick and args.pairs == 6000 else args.pairs, args.seed)
    if not args.no_adversarial:
        kill_s = args.mv_kill_s or (10.0 if args.quick else 30.0)
        run_adversarial(args.quick, kill_s, args.mv_mem_gib)


if __name__ == "__main__":
    main()
