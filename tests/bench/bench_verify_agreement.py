"""Our verifier, math-verify and the Qwen2.5-Math grader's labels, side by side on real generations.

    python tests/bench/bench_verify_agreement.py [--dump /tmp/disagreements.jsonl]

Reads the three labelled generation files in ../shared/data (exits 0 with a message when absent), runs
`factory.verify.verify` and math-verify on every row, prints agreement and disagreement counts, then joins
the hand adjudications in tests/bench/verify_adjudication.jsonl (one line per row where ours disagrees
with the labels or with math-verify) and prints who was right, by class, and each grader's accuracy.
math-verify verdicts are cached under /tmp (it costs about 15 ms a row, far more on long traces).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

from factory.verify import Options
from factory.verify import verify as ours_verify

DATA = Path(__file__).parents[3] / "shared" / "data"
ADJUDICATION = Path(__file__).with_name("verify_adjudication.jsonl")
CACHE = Path("/tmp/bench_verify_agreement_mv_cache.jsonl")
FILES = ("traces_short_cot_qwen_gemma.jsonl", "traces_long_cot_skyt1.jsonl", "qwen25math_math_cot_100x8.jsonl")
GRADERS = ("ours", "labels", "math_verify")


def load_rows(name: str):
    """Yield (row, gt, response, label); in the 100x8 file each sample is a row, numbered line*8+i."""
    with open(DATA / name) as f:
        for line_no, line in enumerate(f):
            rec = json.loads(line)
            if "score" in rec:
                for i, (resp, score) in enumerate(zip(rec["response"], rec["score"], strict=False)):
                    yield line_no * 8 + i, rec["gt"], resp, bool(score)
            else:
                yield line_no, rec["gt"], rec["response"], bool(rec["correct"])


def row_key(name: str, row: int, gt: str, response: str) -> str:
    return hashlib.sha256(json.dumps([name, row, gt, response]).encode()).hexdigest()[:32]


def math_verify_verdict(gt: str, response: str) -> tuple[bool, str | None]:
    """math-verify as its README has it: the gold in a LaTeX environment, verify(gold, answer)."""
    from math_verify import parse, verify

    try:
        gold = parse(gt if "\\boxed" in gt else f"\\boxed{{{gt}}}")
        pred = parse(response)
        return bool(verify(gold, pred)), (str(pred[-1])[:60] if pred else None)
    except Exception:  # noqa: BLE001 - a crash of the reference grader counts as "not correct"
        return False, None


def run_math_verify(rows: list[tuple]) -> dict[str, tuple[bool, str | None]]:
    cache = {}
    if CACHE.exists():
        for line in CACHE.open():
            rec = json.loads(line)
            cache[rec["key"]] = (rec["correct"], rec["pred"])
    todo = [r for r in rows if r[0] not in cache]
    if todo:
        print(f"math-verify: {len(todo)} rows not cached, running them (cache: {CACHE})", file=sys.stderr)
        with CACHE.open("a") as out:
            for n, (key, gt, response) in enumerate(todo):
                cache[key] = math_verify_verdict(gt, response)
                out.write(json.dumps({"key": key, "correct": cache[key][0], "pred": cache[key][1]}) + "\n")
                if n % 500 == 499:
                    print(f"  {n + 1}/{len(todo)}", file=sys.stderr)
    return cache


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f}% ({a}/{b})" if b else "n/a"


def print_agreement(title: str, rs: list[dict]) -> None:
    n = len(rs)
    pairs = (("ours", "labels"), ("ours", "math_verify"), ("math_verify", "labels"))
    agree = {(a, b): sum(r[a] == r[b] for r in rs) for a, b in pairs}
    print(f"\n== {title}: {n} rows")
    for (a, b), k in agree.items():
        print(f"  agreement {a:>11} vs {b:<11} {pct(k, n)}")
    patterns = Counter("".join("C" if r[g] else "w" for g in GRADERS) for r in rs)
    counts = ", ".join(f"{p}={k}" for p, k in sorted(patterns.items()))
    print(f"  patterns (ours/labels/math_verify, C=correct w=wrong): {counts}")
    for a, b in (("ours", "labels"), ("ours", "math_verify")):
        yes_no = sum(r[a] and not r[b] for r in rs)
        no_yes = sum(r[b] and not r[a] for r in rs)
        print(f"  {a} correct & {b} wrong: {yes_no:4d}   {a} wrong & {b} correct: {no_yes:4d}")


def load_adjudication() -> dict[tuple[str, int], dict]:
    out = {}
    if ADJUDICATION.exists():
        for line in ADJUDICATION.open():
            if line.strip():
                rec = json.loads(line)
                out[(rec["file"], rec["row"])] = rec
    return out


def truth_of(rec: dict, r: dict) -> bool | None:
    """The adjudicated verdict: explicit `truth`, else the verdict of whoever was `right`."""
    if "truth" in rec:
        return rec["truth"]
    return None if rec["right"] == "neither" else r[rec["right"]]


def report_adjudication(rs: list[dict]) -> dict[tuple[str, int], bool]:
    """Print the adjudication tables; return the truth of every row it settles (file, row) -> verdict."""
    adj = load_adjudication()
    disagreements = [r for r in rs if not r["ours"] == r["labels"] == r["math_verify"]]
    dis_keys = {(r["file"], r["row"]) for r in disagreements}
    by_key = {(r["file"], r["row"]): r for r in rs}
    stale = []
    for key, rec in adj.items():
        r = by_key.get(key)
        if r is None or key not in dis_keys:
            stale.append((key, "no longer a disagreement"))
        elif rec["right"] != "neither" and r[rec["right"]] != truth_of(rec, r):
            stale.append((key, f"{rec['right']} no longer gives the adjudicated verdict"))
    stale_keys = {k for k, _ in stale}

    table = Counter()
    for key in dis_keys & adj.keys() - stale_keys:
        rec = adj[key]
        table[(rec["class"], rec["right"], key[0])] += 1
    short = {name: name.split("_")[1] if name.startswith("traces") else "100x8" for name in FILES}
    print("\n== adjudicated disagreements: class, right, count per file")
    print(f"  {'class':<70} {'right':<12}" + "".join(f"{short[f]:>6}" for f in FILES) + "  total")
    classes = sorted({(c, w) for c, w, _ in table}, key=lambda cw: (cw[1], -sum(table[(*cw, f)] for f in FILES)))
    for c, w in classes:
        counts = [table[(c, w, f)] for f in FILES]
        print(f"  {c[:70]:<70} {w:<12}" + "".join(f"{k:>6}" for k in counts) + f"  {sum(counts):5d}")

    unclassified = [k for k in dis_keys if k not in adj or k in stale_keys]
    correct, counted, ambiguous, truths = Counter(), 0, 0, {}
    for r in rs:
        key = (r["file"], r["row"])
        if key not in dis_keys:
            truth = r["ours"]
        elif key in unclassified:
            continue
        else:
            truth = truth_of(adj[key], r)
            if truth is None:
                ambiguous += 1
                continue
        counted += 1
        truths[key] = truth
        for g in GRADERS:
            correct[g] += r[g] == truth
    print(
        f"\n== accuracy against the adjudicated truth ({counted} rows: agreements + adjudicated, "
        f"{ambiguous} ambiguous left out)"
    )
    for g in GRADERS:
        print(f"  {g:<12} {pct(correct[g], counted)}")
    print(
        f"\n  disagreements: {len(dis_keys)}, adjudicated: {len(dis_keys) - len(unclassified)}, "
        f"UNCLASSIFIED: {len(unclassified)}, stale adjudications: {len(stale)}"
    )
    for f in FILES:
        left = sorted(row for name, row in unclassified if name == f)
        if left:
            print(f"    unclassified in {f}: rows {left[:40]}{' ...' if len(left) > 40 else ''}")
    for (f, row), why in sorted(stale)[:40]:
        print(f"    stale: {f} row {row}: {why}")
    return truths


SETTINGS = {"default (strict)": Options(), "prose_answers": Options(prose=True),
            "ordered_lists": Options(ordered_lists=True)}


def report_options(rows: list[tuple], rs: list[dict], truths: dict[tuple[str, int], bool]) -> None:
    """Each `verify:` option's setting against the labels and the adjudicated truth (settled rows only)."""
    print("\n== verify options (a genuine judgement each): agreement with the labels, accuracy on settled rows")
    by_key = {(r["file"], r["row"]): r for r in rs}
    for title, options in SETTINGS.items():
        agree = right = settled = changed = 0
        for name, row, gt, resp, label in rows:
            default = by_key[(name, row)]["ours"]  # the main table's verdict, judged with the defaults
            ours = default if options == Options() else ours_verify(gt, resp, timeout_s=5.0, options=options).correct
            agree += ours == label
            changed += ours != default
            if (name, row) in truths:
                settled += 1
                right += ours == truths[(name, row)]
        print(f"  {title:<18} labels {pct(agree, len(rows))}   truth {pct(right, settled)}   "
              f"verdicts changed from the default: {changed}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dump", type=Path, help="write every disagreement row (keys, gt, predictions) here")
    args = ap.parse_args()
    if not all((DATA / f).exists() for f in FILES):
        print(f"skipped: the labelled generation files are not in {DATA}")
        return
    rows = [(name, row, gt, resp, label) for name in FILES for row, gt, resp, label in load_rows(name)]
    mv = run_math_verify([(row_key(n, row, gt, resp), gt, resp) for n, row, gt, resp, _ in rows])
    rs = []
    for name, row, gt, resp, label in rows:
        v = ours_verify(gt, resp, timeout_s=5.0)
        mv_correct, mv_pred = mv[row_key(name, row, gt, resp)]
        rs.append(
            {
                "file": name,
                "row": row,
                "gt": gt,
                "ours": v.correct,
                "ours_reason": v.reason,
                "ours_pred": v.predicted,
                "labels": label,
                "math_verify": mv_correct,
                "mv_pred": mv_pred,
            }
        )
    for name in FILES:
        print_agreement(name, [r for r in rs if r["file"] == name])
    print_agreement("overall", rs)
    truths = report_adjudication(rs)
    report_options(rows, rs, truths)
    if args.dump:
        with args.dump.open("w") as out:
            for r in rs:
                if not r["ours"] == r["labels"] == r["math_verify"]:
                    out.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
