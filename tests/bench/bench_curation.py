"""Curation on real problem sets: recall on planted drifted copies, false merges of one-number variants,
false contamination of MATH-train against MATH-500, and the time to curate 40k problems on one core.

    python tests/bench/bench_curation.py [--data ../shared/data] [--planted 60] [--problems 40000] [--seed 0]

Needs `../shared/data` (DeepScaleR's AIME and MATH training parts and the recipe's eval sets). Every planted
row is made here, from those rows, by the drift and variant functions below; nothing is written to disk.
Each figure is printed next to what exact matching (the factory before curation) finds on the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

from factory.config import CurateConfig
from factory.stages.sources import RawProblem, curate
from factory.stages.sources.ids import problem_id
from factory.stages.sources.near_dup import shingles

ROOT = Path(__file__).resolve().parents[2]
TRAIN = {"deepscaler-aime": "deepscaler_train_aime.jsonl", "deepscaler-math": "deepscaler_train_math.jsonl"}
EVALS = {"aime-2024": "aime2024.jsonl", "amc-2023": "amc_2022_2023_deepscaler.jsonl", "math-500": "math500.jsonl",
         "minerva": "minerva_math.jsonl", "olympiadbench": "olympiadbench.jsonl"}

PREFIXES = ["Solve the following math problem.", "Solve the following math problem step by step.", "Problem:",
            "Answer the following question:", "Please solve the following problem."]
SUFFIXES = ["Put your final answer in \\boxed{}.", "Put your final answer within \\boxed{}.",
            "Let's think step by step and output the final answer within \\boxed{}.",
            "Please reason step by step, and put your final answer within \\boxed{}.",
            "Return your final response as 'Final Answer: \\boxed{<answer>}', where <answer> is the number or "
            "mathematical expression of the solution."]


def _dfrac(rng, t):
    return t.replace("\\frac", rng.choice(["\\dfrac", "\\tfrac"]))


def _delimiters(rng, t):
    return re.sub(r"(?<!\\)\$([^$]+?)(?<!\\)\$", lambda m: f"\\({m.group(1)}\\)", t)


def _double_spaces(rng, t):
    return re.sub(r" ", lambda m: "  " if rng.random() < 0.5 else " ", t)


def _operator_spaces(rng, t):
    return re.sub(r"\s*([+=,.?<>-])\s*", r" \1 ", t)


def _prefix(rng, t):
    return f"{rng.choice(PREFIXES)} {t}"


def _suffix(rng, t):
    return f"{t}{rng.choice([' ', chr(10), chr(10) * 2])}{rng.choice(SUFFIXES)}"


def _first_word_case(rng, t):
    head, _, rest = t.partition(" ")
    return f"{head.lower() if head[:1].isupper() else head.capitalize()} {rest}"


# instructions the matching form does not know: only the near-duplicate and n-gram checks can see past them
UNKNOWN = ["Give an exact answer.", "Show all of your work and justify each step.", "Answer with a single number.",
           "You have 10 minutes for this question.", "Read carefully before answering.",
           "This question is worth 5 points."]


def _unknown_instruction(rng, t):
    phrase = rng.choice(UNKNOWN)
    return f"{phrase} {t}" if rng.random() < 0.5 else f"{t} {phrase}"


DRIFTS = [_dfrac, _delimiters, _double_spaces, _operator_spaces, _prefix, _suffix, _first_word_case]


def drifted(rng: random.Random, text: str) -> str:
    """`text` with 2 to 4 of the drifts above, as copies of one problem drift between datasets."""
    for drift in rng.sample(DRIFTS, rng.randint(2, 4)):
        text = drift(rng, text)
    return text


def drifted_unknown(rng: random.Random, text: str) -> str:
    """`text` with an instruction no pattern knows, plus 1 or 2 of the known drifts."""
    for drift in rng.sample(DRIFTS, rng.randint(1, 2)):
        text = drift(rng, text)
    return _unknown_instruction(rng, text)


def one_number_variant(rng: random.Random, text: str) -> str | None:
    """`text` with one number changed: a different problem with a different answer (None: no number)."""
    spots = [m for m in re.finditer(r"(?<![\w.])\d+(?![\w.])", text) if not text[m.end():m.end() + 1] == "^"]
    if not spots:
        return None
    m = rng.choice(spots)
    new = str(int(m.group()) + rng.randint(1, 9))
    return text[:m.start()] + new + text[m.end():]


def _read(path: Path, source: str) -> list[RawProblem]:
    out = []
    for i, line in enumerate(path.read_text().splitlines()):
        row = json.loads(line)
        answer = row.get("answer")
        out.append(RawProblem(source, str(i), row["problem"], None if answer is None else str(answer)))
    return out


def _exact_statuses(rows: list[RawProblem], evals: list[RawProblem]) -> dict[tuple[str, str], str]:
    """What the factory did before curation: the same normalized text is a copy, nothing else is."""
    bench = {problem_id(e.problem) for e in evals}
    seen, out = set(), {}
    for r in rows:
        pid = problem_id(r.problem)
        out[(r.source, r.source_row)] = ("duplicate" if pid in seen else "contaminated" if pid in bench else "ok")
        seen.add(pid)
    return out


def precision(data: Path, planted: int, seed: int) -> None:
    rng = random.Random(seed)
    train = [r for name, f in TRAIN.items() for r in _read(data / f, name)]
    evals = [r for name, f in EVALS.items() for r in _read(data / f, name)]
    originals = rng.sample(train, planted)
    eval_originals = rng.sample(evals, planted)
    copies = [RawProblem("planted-copy", str(i), drifted(rng, r.problem), r.answer) for i, r in enumerate(originals)]
    eval_copies = [RawProblem("planted-eval", str(i), drifted(rng, r.problem), "1")
                   for i, r in enumerate(eval_originals)]
    variants, variant_of = [], []
    for r in rng.sample(train, planted * 3):
        text = one_number_variant(rng, r.problem)
        if text is not None and len(variants) < planted:
            variants.append(RawProblem("planted-variant", str(len(variants)), text, "1"))
            variant_of.append(r)
    hard_originals, hard_eval_originals = rng.sample(train, planted), rng.sample(evals, planted)
    hard = [RawProblem("planted-hard", str(i), drifted_unknown(rng, r.problem), r.answer)
            for i, r in enumerate(hard_originals)]
    hard_eval = [RawProblem("planted-hard-eval", str(i), drifted_unknown(rng, r.problem), "1")
                 for i, r in enumerate(hard_eval_originals)]
    rows = train + copies + eval_copies + variants + hard + hard_eval
    t = time.perf_counter()
    cur = curate(rows, evals, CurateConfig(), [*TRAIN, "planted-copy", "planted-eval", "planted-variant",
                                               "planted-hard", "planted-hard-eval"])
    took = time.perf_counter() - t
    table = {(r["source"], r["source_row"]): r for r in cur.problems.to_pylist()}
    old = _exact_statuses(rows, evals)

    def key(r):
        return f"{r.source}:{r.source_row}"

    def grouped(copy, orig):
        c, o = table[(copy.source, copy.source_row)], table[(orig.source, orig.source_row)]
        return (c["duplicate_of"] == key(orig) or o["duplicate_of"] == key(copy)
                or (c["duplicate_of"] is not None and c["duplicate_of"] == o["duplicate_of"]))

    dup_hits = sum(grouped(c, o) for c, o in zip(copies, originals, strict=True))
    dup_old = sum(old[(c.source, c.source_row)] == "duplicate" for c in copies)
    eval_hits = sum(table[(c.source, c.source_row)]["status"] == "contaminated"
                    and (table[(c.source, c.source_row)]["contaminated_by"] or "") == f"{o.source}:{o.source_row}"
                    for c, o in zip(eval_copies, eval_originals, strict=True))
    eval_old = sum(old[(c.source, c.source_row)] == "contaminated" for c in eval_copies)
    merged = [(v, o) for v, o in zip(variants, variant_of, strict=True) if grouped(v, o)]
    hard_hits = sum(grouped(c, o) for c, o in zip(hard, hard_originals, strict=True))
    hard_eval_hits = sum((table[(c.source, c.source_row)]["contaminated_by"] or "") == f"{o.source}:{o.source_row}"
                         for c, o in zip(hard_eval, hard_eval_originals, strict=True))
    print(f"planted into {len(train)} training rows (DeepScaleR AIME + MATH), against {len(evals)} eval rows; "
          f"curated in {took:.1f} s")
    print(f"  drifted eval copies flagged contaminated (right eval row): {eval_hits}/{len(eval_copies)} "
          f"(exact matching: {eval_old}/{len(eval_copies)})")
    print(f"  drifted training copies grouped with their original:      {dup_hits}/{len(copies)} "
          f"(exact matching: {dup_old}/{len(copies)})")
    print(f"  one-number variants merged with their original:          {len(merged)}/{len(variants)}")
    print(f"  with an instruction no pattern knows: eval copies flagged {hard_eval_hits}/{len(hard_eval)}, "
          f"training copies grouped {hard_hits}/{len(hard)}")
    for c, o in zip(copies, originals, strict=True):
        if not grouped(c, o):
            r, ro = table[(c.source, c.source_row)], table[(o.source, o.source_row)]
            print(f"    missed ({r['status']}, original {ro['status']}): {c.problem[:150]!r}\n"
                  f"      orig: {o.problem[:150]!r}")
    for c, o in zip(eval_copies, eval_originals, strict=True):
        r = table[(c.source, c.source_row)]
        if r["contaminated_by"] != f"{o.source}:{o.source_row}":
            print(f"    missed ({r['status']}, {r['contaminated_by']}): {c.problem[:150]!r}\n"
                  f"      orig: {o.problem[:150]!r}")
    for v, o in merged:
        print(f"    merged variant: {v.problem[:150]!r}\n              orig: {o.problem[:150]!r}")
    stray = [r for r in table.values() if r["source"] in TRAIN and r["status"] == "duplicate"
             and (r["duplicate_similarity"] or 1.0) < 1.0]
    print(f"  near (not exact-form) merges among the real training rows: {len(stray)}")
    for r in stray[:10]:
        kept = table[tuple(r["duplicate_of"].split(":", 1))]
        print(f"    {r['similarity'] if 'similarity' in r else r['duplicate_similarity']:.3f} "
              f"{r['problem'][:110]!r}\n          kept: {kept['problem'][:110]!r}")


def math_vs_math500(data: Path) -> None:
    train = _read(data / TRAIN["deepscaler-math"], "deepscaler-math")
    bench = _read(data / EVALS["math-500"], "math-500")
    evals = {e.source_row: e.problem for e in bench}
    for n in (13, 8):
        cfg = CurateConfig.model_validate({"contamination": {"ngram": n}})
        cur = curate(train, bench, cfg, ["deepscaler-math"])
        flagged = [r for r in cur.problems.to_pylist() if r["status"] == "contaminated"]
        old = sum(s == "contaminated" for s in _exact_statuses(train, bench).values())
        print(f"MATH-train ({len(train)} rows) against MATH-500, {n}-grams: {len(flagged)} flagged "
              f"({100 * len(flagged) / len(train):.2f}%), exact matching {old}")
        matches = {(m["source_row"]): m for m in cur.contamination.to_pylist()}
        for r in flagged:
            m = matches[r["source_row"]]
            print(f"    {m['method']} {m['score']:.3f} train: {r['problem'][:100]!r}\n"
                  f"                 eval:  {evals[m['eval_row']][:100]!r}")


def speed(data: Path, problems: int, seed: int) -> None:
    from factory.demo.build import TEMPLATES
    from factory.demo.problems import draw

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # the target is for one core
    rng = random.Random(seed)
    train = [r for name, f in TRAIN.items() for r in _read(data / f, name)]
    evals = [r for name, f in EVALS.items() for r in _read(data / f, name)]
    real = len(train)
    seen: set[str] = set()
    topics = list(TEMPLATES)
    while len(train) < problems and topics:
        topic = topics[len(train) % len(topics)]
        try:
            p, a = draw(rng, topic, seen)
        except RuntimeError:  # a small template runs out of distinct problems: the others go on
            topics.remove(topic)
            continue
        train.append(RawProblem("demo-generator", str(len(train)), p, a))
    t = time.perf_counter()
    cur = curate(train, evals, CurateConfig(), [*TRAIN, "demo-generator"])
    took = time.perf_counter() - t
    counts = {}
    for s in cur.problems["status"].to_pylist():
        counts[s] = counts.get(s, 0) + 1
    print(f"curate {len(train)} problems ({real} real, the rest from the demo generator) against {len(evals)} "
          f"eval problems on one core: {took:.1f} s "
          f"(target 60 s: {took / 60:.2f} of it); {counts}")
    texts = [r.problem for r in train]
    sets = [sorted(shingles(t.lower(), 3)) for t in texts]
    import rensa

    t = time.perf_counter()
    for s in sets:
        m = rensa.RMinHash(num_perm=128, seed=1)
        m.update(s)
    t_rensa = time.perf_counter() - t
    try:
        import datasketch
    except ImportError:
        print("  datasketch not installed: no side-by-side")
        return
    t = time.perf_counter()
    for s in sets:
        m = datasketch.MinHash(num_perm=128, seed=1)
        m.update_batch([x.encode() for x in s])
    t_ds = time.perf_counter() - t
    print(f"  MinHash of {len(sets)} problems, 128 permutations: rensa {t_rensa:.2f} s, datasketch {t_ds:.2f} s "
          f"({t_ds / t_rensa:.0f}x)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--planted", type=int, default=60)
    ap.add_argument("--problems", type=int, default=40_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["precision", "math500", "speed"])
    args = ap.parse_args()
    if not (args.data / TRAIN["deepscaler-math"]).is_file():
        print(f"{args.data} has no {TRAIN['deepscaler-math']}; pass --data DIR holding ../shared/data's files")
        return 2
    if args.only in (None, "precision"):
        precision(args.data, args.planted, args.seed)
    if args.only in (None, "math500"):
        math_vs_math500(args.data)
    if args.only in (None, "speed"):
        speed(args.data, args.problems, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
