"""Write the offline demo's inputs: synthetic problems, a second source, an eval set and a tokenizer.

The demo pipeline must run with nothing outside the repo, so its data is generated here from seeded
templates (`factory.demo.problems`) with sympy-computed answers, and its tokenizer is a small
byte-level BPE trained on those problems plus a little reasoning English written below. Everything is
a pure function of `--seed`, so regenerating the committed files is a no-op:

    python -m factory.demo --out datasets/demo
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from factory.demo.problems import TEMPLATES, draw, normalize

N_EXTRA_NEW = 30  # extra.jsonl: problems found in no other file
N_EXTRA_COPIES = 25  # extra.jsonl: copies of problems.jsonl rows (cross-source duplicates)
N_EXTRA_WS_COPIES = 12  # ...of which this many differ from the original in whitespace only
N_EXTRA_DRIFTED = 6  # ...and the next this many drift as copies between datasets do (see `_drift`)
N_EXTRA_NO_ANSWER = 5  # extra.jsonl: new problems with `final` null or "" (no reference answer)
N_EVAL_NEW = 30  # eval.jsonl: held-out problems
N_EVAL_COPIES = 10  # eval.jsonl: problems.jsonl texts, so decontamination has positives
N_EVAL_DRIFTED = 5  # ...of which this many drift (see `_drift`); the rest are verbatim

SPECIAL_TOKENS = ["<|endoftext|>", "<think>", "</think>", "<|im_start|>", "<|im_end|>"]
VOCAB_SIZE = 4000

# Generic reasoning English so the tokenizer has merges for what a teacher writes, not only for the
# problem templates (token counts of reasoning traces would otherwise be inflated).
REASONING_CORPUS = """\
Okay, let me start by reading the problem carefully.
First, I need to figure out what the question is asking.
Let me compute the discriminant first.
The discriminant is $b^2 - 4ac$, so the roots are real when it is nonnegative.
Wait, let me double-check that step.
Hmm, that doesn't look right. Let me redo the calculation.
So the answer should be $\\boxed{12}$.
Therefore, the final answer is $\\boxed{\\frac{3}{4}}$.
By Vieta's formulas, the sum of the roots is $-\\frac{b}{a}$ and the product is $\\frac{c}{a}$.
Substituting back into the original equation, both sides are equal, so the solution checks out.
We can factor the expression as $(x - 2)(x + 3)$.
Expanding, we get $x^2 + x - 6$.
The greatest common divisor divides both numbers, and the least common multiple is a multiple of both.
Using the Euclidean algorithm, $\\gcd(84, 36) = \\gcd(36, 12) = 12$.
The prime factorization is $2^3 \\cdot 3^2 \\cdot 5$, so the number of divisors is $4 \\cdot 3 \\cdot 2 = 24$.
By the Pythagorean theorem, $c = \\sqrt{a^2 + b^2}$.
The distance formula gives $\\sqrt{(x_2 - x_1)^2 + (y_2 - y_1)^2}$.
Since $\\sqrt{72} = \\sqrt{36 \\cdot 2} = 6\\sqrt{2}$, the simplified form is $6\\sqrt{2}$.
The derivative of $x^n$ is $n x^{n-1}$, by the power rule.
There are $\\binom{n}{k} = \\frac{n!}{k!(n-k)!}$ ways to choose the committee.
The probability is the number of favorable outcomes divided by the total number of outcomes.
The sum of an arithmetic series is the number of terms times the average of the first and last terms.
Let's consider the cases one at a time.
Alternatively, we could approach this problem by working modulo $m$.
Notice that the powers repeat with period $4$, so we only need the exponent modulo $4$.
I think I made an arithmetic error earlier. Let me recompute: $7 \\times 8 = 56$, not $54$.
Now, adding these two fractions requires a common denominator.
Multiplying both sides by $2$, we obtain $2x + 6 = 10$, hence $x = 2$.
This means that $x = -3$ or $x = \\frac{1}{2}$.
Actually, wait. I should verify this with a concrete example.
Putting it all together, the answer is $\\boxed{-\\frac{5}{2}}$.
Is there a simpler way? Let's see whether the numbers have a pattern.
The area of a triangle is one half of the base times the height.
The perimeter is the sum of all the side lengths.
So we have $\\frac{d}{dx}\\left(3x^{4} - 2x + 1\\right) = 12x^{3} - 2$.
Let $r$ and $s$ be the roots; then $r + s = 5$ and $rs = 6$.
We want the remainder, so reduce each step modulo the divisor to keep the numbers small.
Counting the outcomes: $(1, 6), (2, 5), (3, 4), (4, 3), (5, 2), (6, 1)$, which gives $6$ pairs.
That completes the proof, and the result matches our estimate.
Let me think about this step by step before writing anything down.
The key observation is that the expression is symmetric, so we can assume without loss of generality that $a \\le b$.
If we let $n$ be the number of students, then the total number of handshakes is $\\frac{n(n-1)}{2}$.
Hmm, maybe I should try small cases first and look for a pattern: $n = 1, 2, 3, 4$.
For $n = 1$ the value is $1$, for $n = 2$ it is $3$, for $n = 3$ it is $6$, which suggests triangular numbers.
I'm not sure this is correct, so let me check it with a different method.
Both methods agree, which gives me more confidence in the result.
We are told that the function is increasing on the interval, so its minimum occurs at the left endpoint.
Completing the square, $x^2 - 6x + 13 = (x - 3)^2 + 4$, so the minimum value is $4$.
Recall that a number is divisible by $3$ exactly when the sum of its digits is divisible by $3$.
The last digit of a power of $7$ cycles through $7, 9, 3, 1$.
By Fermat's little theorem, $a^{p-1} \\equiv 1 \\pmod{p}$ whenever $p$ is prime and does not divide $a$.
The circle has radius $r$, so its circumference is $2\\pi r$ and its area is $\\pi r^2$.
The slope of the line through the two points is the change in $y$ divided by the change in $x$.
Since the coefficients are integers, any rational root must divide the constant term.
The expected value is the sum of each outcome multiplied by its probability.
There are six faces on each die, so there are $36$ equally likely outcomes in total.
Without replacement means the second draw depends on the first one.
I'll write the answer as a common fraction in lowest terms.
Let's simplify: dividing numerator and denominator by their greatest common divisor gives the reduced form.
That gives a contradiction, so our assumption must be false.
Now I need to be careful with the signs here, because a negative times a negative is positive.
Rearranging the terms and collecting like terms, the equation becomes linear in $x$.
The team chose four players from the ten available, and the order of the choices did not matter.
Each of these choices is independent, so we multiply the number of options at every stage.
We found earlier that the remaining length is twelve, which fits with the diagram.
The question asks for the smallest positive integer, not the largest, so I should double check the direction.
In summary, the solution works because each step preserves equality.
Hold on, I think I misread the problem. It says at least, not exactly.
One more check: plugging the value back in gives zero, exactly as required.
0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 25 50 100 1000
\\frac \\sqrt \\boxed \\cdot \\times \\left( \\right) \\le \\ge \\neq \\pi \\infty \\sum \\prod \\binom \\pmod
"""

# Everyday and mathematical words a reasoning trace uses but the templates never do; with only the
# sentences above BPE stops well short of VOCAB_SIZE, so these fill the vocabulary with real words.
WORD_LIST = """\
about above according account across action actually add added adding addition after again against
algebra all almost alone along already also although always among amount analysis angle another
answer any anything apart apply approach appropriate approximately arbitrary area argument around
arrange arrangement assume assumption attempt average avoid axis back bad base based basic because
become before begin behind being believe below best better between beyond bigger bit both bound
boundary bracket break bring build calculate calculation call called can cannot careful carefully
carry case cases cause center certain certainly chain chance change check checking choice choose
chosen circle claim clear clearly close coefficient coin collect column combination combine common
compare complete completely complex condition confirm consecutive consider constant constraint
contain continue contradiction convert coordinate correct correctly could count counting course
cube cubic curve cycle decimal decide decrease define definitely degree denominator depend describe
determine diagonal diagram difference different digit directly distinct divide divided division
does done double down draw each earlier easier easy edge effect either element else end enough
entire equal equation equivalent error estimate even every everything exact exactly example except
exist expand expect explain exponent express expression extra face fact factor factorial false far
few figure final finally find finding fine finish fixed follow following form formula found fourth
fraction function general get give given goal good graph greater group guess half happen hence
here higher however idea identity imaginary implies important include increase indeed independent
inequality infinite information initial inside instead integer interesting interval into inverse
itself just keep kind know known large larger last later least leave left length less level like
likely limit line list little long look looks lower main make many match maximum maybe mean means
measure middle might minimum minus mistake modulo more most move much multiple multiply must
natural near nearest necessary need negative never next nothing notice number numerator obtain
obvious odd often once only opposite option order original other otherwise outcome over pair parity
part particular pattern perfect perhaps piece place plane plug plus point polynomial position
positive possible power previous prime probably problem process product proof properly property
prove quadratic quantity question quick quickly quite radius range rate rather ratio rational
reach read real really reason recall rectangle recursion reduce relation remain remainder remember
repeat represent require rest result right root rotate round row rule same satisfy says second
sequence series set several shape should show side sign similar simple simplify since single size
small smaller smallest solution solve solving some something sometimes sort space special square
start statement step still straight strategy structure subtract such suggests sum suppose sure
symmetric system table take term terms test then theorem there thing think third those though
three through thus time together total triangle true try turn twice two under understand unique
unit unless until upper usual value variable various verify vertex very want way whether while
whole width without work works worth would write written wrong yes yet zero
"""

# --- data ------------------------------------------------------------------------------------------


def generate_problems(seed: int = 0) -> list[dict]:
    """The 2400 rows of problems.jsonl: fixed per-topic counts, shuffled, ids in final order."""
    rng = random.Random(f"demo-problems:{seed}")
    seen: set[str] = set()
    rows = [
        {"problem": p, "answer": a, "topic": topic}
        for topic, (_, _, count) in TEMPLATES.items()
        for p, a in (draw(rng, topic, seen) for _ in range(count))
    ]
    rng.shuffle(rows)  # interleave topics so any prefix (e.g. a --limit) has a mix
    return [{"id": f"synth-{i:05d}", **row} for i, row in enumerate(rows)]


def _fresh(rng: random.Random, n: int, seen: set[str]) -> list[tuple[str, str]]:
    """`n` problems unseen so far, topics in rotation so the small files cover every template."""
    topics = list(TEMPLATES)
    return [draw(rng, topics[i % len(topics)], seen) for i in range(n)]


def _respace(rng: random.Random, text: str) -> str:
    """The same text with different whitespace only (doubled spaces, a newline, padding)."""
    words = text.split(" ")
    cut = rng.randrange(1, len(words))
    words[cut] = rng.choice(["\n", "  ", "\t"]) + words[cut]
    return rng.choice(["  ", "\n", ""]) + " ".join(words) + rng.choice([" ", "\n", "  \n"])


_INSTRUCTIONS = ["Solve the following math problem. {}", "{} Put your final answer in \\boxed{{}}.",
                 "{}\n\nLet's think step by step and output the final answer within \\boxed{{}}.",
                 "{} Give an exact answer."]  # an instruction the matching form does not know: a near copy


def _drift(rng: random.Random, text: str) -> str:
    """The same problem as another dataset might write it: other math delimiters, `\\dfrac`, spaces around
    operators, an instruction before or after (what `factory curate` must still recognise)."""
    text = text.replace("\\frac", "\\dfrac")
    parts = text.split("$")
    if len(parts) % 2 == 1 and len(parts) > 1:  # balanced inline math: $a$ -> \(a\)
        text = "".join(p if i % 2 == 0 else f"\\({p.replace('+', ' + ')}\\)" for i, p in enumerate(parts))
    return rng.choice(_INSTRUCTIONS).format(text)


def generate_side_files(problems: list[dict], seed: int = 0) -> tuple[list[dict], list[dict]]:
    """extra.jsonl rows (`qid`/`question`/`final`) and eval.jsonl rows (`problem`/`answer`).

    New problems here are unique across all three files, so every overlap is one put in on purpose
    and the counts in the README hold exactly.
    """
    rng = random.Random(f"demo-side:{seed}")
    drift_rng = random.Random(f"demo-drift:{seed}")  # its own stream: the other rows stay as they were
    seen = {normalize(r["problem"]) for r in problems}
    extra_new = _fresh(rng, N_EXTRA_NEW + N_EXTRA_NO_ANSWER, seen)
    eval_new = _fresh(rng, N_EVAL_NEW, seen)
    copies = rng.sample(problems, N_EXTRA_COPIES + N_EVAL_COPIES)
    extra_copies, eval_copies = copies[:N_EXTRA_COPIES], copies[N_EXTRA_COPIES:]

    extra: list[tuple[str, str | None]] = list(extra_new[:N_EXTRA_NEW])
    extra += [(p, None if i % 2 == 0 else "") for i, (p, _) in enumerate(extra_new[N_EXTRA_NEW:])]
    extra += [(_respace(rng, r["problem"]) if i < N_EXTRA_WS_COPIES else
               _drift(drift_rng, r["problem"]) if i < N_EXTRA_WS_COPIES + N_EXTRA_DRIFTED else r["problem"],
               r["answer"]) for i, r in enumerate(extra_copies)]
    rng.shuffle(extra)
    evals = eval_new + [(_drift(drift_rng, r["problem"]) if i < N_EVAL_DRIFTED else r["problem"], r["answer"])
                        for i, r in enumerate(eval_copies)]
    rng.shuffle(evals)
    return ([{"qid": f"ext-{i:03d}", "question": p, "final": a} for i, (p, a) in enumerate(extra)],
            [{"problem": p, "answer": a} for p, a in evals])


def render_jsonl(rows: list[dict]) -> str:
    """JSON Lines text exactly as written to disk (the determinism tests compare this string)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


# --- tokenizer -------------------------------------------------------------------------------------


def train_tokenizer(texts: list[str], vocab_size: int = VOCAB_SIZE) -> Tokenizer:
    """Byte-level BPE: every byte is in the base alphabet, so no text ever maps to an unknown token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def tokenizer_corpus(problems: list[dict]) -> list[str]:
    """Problem texts, a boxed-answer line per problem, reasoning sentences and words, in fixed order."""
    # A short worked line per problem teaches the merges around `\\boxed{...}` answers as well.
    closings = [f"So the answer is $\\boxed{{{r['answer']}}}$." for r in problems]
    # Words appear mid-sentence (as lines: the byte-level pre-tokenizer marks the leading space) and
    # capitalized on their own, as at the start of a sentence, which BPE treats as a different token.
    words = WORD_LIST.splitlines() + [w.capitalize() for w in WORD_LIST.split()]
    return [r["problem"] for r in problems] + closings + REASONING_CORPUS.splitlines() + words


# --- entry point -----------------------------------------------------------------------------------


def write_demo(out: Path, seed: int = 0, tokenizer: bool = True) -> dict[str, Path]:
    """Generate every demo file into `out`; returns name -> path of what was written."""
    out.mkdir(parents=True, exist_ok=True)
    problems = generate_problems(seed)
    extra, evals = generate_side_files(problems, seed)
    written = {}
    for name, rows in (("problems", problems), ("extra", extra), ("eval", evals)):
        path = out / f"{name}.jsonl"
        path.write_text(render_jsonl(rows), encoding="utf-8")
        written[name] = path
    if tokenizer:
        from factory.train.model import CHATML_TRAINING_TEMPLATE

        written["tokenizer"] = out / "tokenizer.json"
        train_tokenizer(tokenizer_corpus(problems)).save(str(written["tokenizer"]))
        # the student's template, which the demo's lengths are counted with: the one its training uses
        written["chat_template"] = out / "chat_template.jinja"
        written["chat_template"].write_text(CHATML_TRAINING_TEMPLATE + "\n", encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> None:
    """CLI: `python -m factory.demo --out datasets/demo [--seed 0] [--no-tokenizer]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("datasets/demo"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-tokenizer", action="store_true", help="skip training tokenizer.json")
    args = parser.parse_args(argv)
    for name, path in write_demo(args.out, args.seed, not args.no_tokenizer).items():
        print(f"{name}: {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
