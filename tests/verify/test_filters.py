"""Trace filters: one test per reason code, near-misses that must pass, switches, and bounded work."""

import random
from pathlib import Path

import pytest

from factory.config import FilterConfig, RepetitionFilter, ScriptFilter, load_pipeline
from factory.errors import ConfigError
from factory.simteacher.traces import reasoning_text
from factory.stages.judge.batch import judge_batch
from factory.verify import Options, check_trace, verify
from factory.verify.filters import (
    SCRIPT_SLICE_CHARS,
    SCRIPT_SLICES,
    answer_policy,
    is_looping,
    is_mixed_script,
    loop_window,
    script_sample,
)
from factory.verify.options import options_of

ROOT = Path(__file__).resolve().parents[2]
CFG = FilterConfig()
BOX = r"The final answer is $\boxed{12}$."
# Ordinary reasoning with no repeats: the lead-in of the texts below.
def prose(n: int, start: int = 0) -> str:
    return " ".join(f"Step {i}: we compute the term $a_{{{i}}} = {i * i + 3}$ and compare it with {7 * i}."
                    for i in range(start, start + n))


PROSE = prose(40)


def judge(reasoning, answer=BOX, cfg=CFG, finish="stop", closed=True):
    return check_trace(reasoning, answer, finish, closed, cfg)


def test_passes():
    assert judge("thinking", r"\boxed{1}") is None
    assert judge(PROSE) is None


def test_truncated():
    assert judge("thinking", "", finish="length") == "truncated"
    assert judge("thinking", "x", finish="length", cfg=FilterConfig(reject_truncated=False)) is None


def test_unclosed_think():
    assert judge("thinking", "", closed=False) == "unclosed_think"
    assert judge("thinking", "x", closed=False, cfg=FilterConfig(reject_unclosed_think=False)) is None


def test_truncated_wins_over_unclosed():
    assert judge("thinking", None, finish="length", closed=False) == "truncated"


def test_empty():
    assert judge(None, None) == "empty"
    assert judge("  ", "\n") == "empty"


def test_empty_reasoning():
    strict = FilterConfig(reject_empty_reasoning=True)
    assert judge("", r"\boxed{1}", cfg=strict) == "empty_reasoning"
    assert judge(None, r"\boxed{1}") is None


# --- repetition ---------------------------------------------------------------------------------

def test_a_sentence_looping_to_the_end_is_repetition():
    loop = PROSE + " Wait, let me recompute the sum of the first ten terms." * 40
    assert judge(loop) == "repetition"


def test_a_paragraph_looping_is_repetition_even_when_it_breaks_off_before_the_end():
    block = ("Let me reconsider the constraint on $x$.\nIf $x > 2$ then $f(x) > 0$.\n"
             "So the roots must lie in $[0, 2]$.\nBut then the sum is too small.\n\n")
    assert judge(PROSE + "\n" + block * 9 + "I keep going in circles; the answer is 12.") == "repetition"


def test_a_loop_without_sentence_or_line_breaks_is_caught_by_compression():
    loop = PROSE + " so the sequence is " + "1, 0, " * 3000
    assert judge(loop) == "repetition"
    assert judge(loop, cfg=FilterConfig(repetition={"max_compression_ratio": None})) is None


def test_near_misses_pass():
    # an equation line legitimately repeated a few times, and a short run of interjections
    eq = PROSE + "\n$$x^2 - 5x + 6 = 0$$\n" * 3 + "Factoring gives $(x-2)(x-3) = 0$.\n"
    assert judge(eq) is None
    assert judge(PROSE + " Hmm." * 8 + " So the value is 12.") is None
    # a long, regular enumeration is not a loop: every line differs
    table = "\n".join(f"For $n = {n}$: $n^2 + n + 41 = {n * n + n + 41}$, which is prime." for n in range(400))
    assert judge(table) is None


def test_the_simulated_teachers_traces_are_not_loops():
    # long traces drawn from a small pool of sentences: the same sentences recur, but never back to back
    rng = random.Random(7)
    traces = [reasoning_text(rng, 8000, (3, 7), "12") for _ in range(30)]
    assert [judge(t) for t in traces] == [None] * 30


def test_repetition_thresholds_and_switches():
    eq = PROSE + "\n$$x^2 - 5x + 6 = 0$$\n" * 3
    assert judge(eq, cfg=FilterConfig(repetition={"min_repeats": 3, "min_loop_chars": 40})) == "repetition"
    loop = PROSE + " Wait, let me recompute the sum of the first ten terms." * 40
    assert judge(loop, cfg=FilterConfig(repetition={"enabled": False})) is None
    assert judge(loop, cfg=FilterConfig(repetition=False)) is None
    assert judge(PROSE, r"\boxed{12}" + "\n\\boxed{12}" * 60) == "repetition"  # the answer part loops too


def test_only_the_tail_is_examined():
    cfg = RepetitionFilter()
    loop = "Wait, let me recompute the sum of the first ten terms. " * 20_000  # 1.1 MB of loop
    clean = " ".join(f"Next, term {i} is {i * i + 3}." for i in range(2000))
    assert len(clean) > cfg.window_chars
    assert is_looping(loop, cfg)
    assert not is_looping(loop + clean, cfg)  # the loop lies before the window: never read
    assert loop_window(loop + clean, cfg) == clean[-cfg.window_chars:]
    assert is_looping(clean + loop[: cfg.window_chars], cfg)


# --- mixed scripts ------------------------------------------------------------------------------

def test_switching_into_chinese_is_mixed_script():
    zh = PROSE + " 所以我们需要重新计算这个和，然后检查每一项是否正确。" + " Then the sum is 12."
    assert judge(zh) == "mixed_script"
    assert judge(PROSE, "答案是 $\\boxed{12}$，因为每一项都已经检查过了。") == "mixed_script"


def test_math_notation_never_counts():
    text = (PROSE + " Let α, β be the roots, θ the angle and λ ∈ ℝ; then ∑_{k=1}^{n} k = n(n+1)/2, "
            "∫₀¹ x² dx = ⅓, 𝑥 ≥ 0, µ = 3 × 4 ÷ 2, 90°, ∀ε > 0 ∃δ, by Bézout and Möbius, f: ℤ → ℚ, ℓ ≤ ℵ₀, ⁿ√x.")
    assert judge(text) is None


def test_allowed_scripts_and_share():
    zh = "".join(f"第{i}步：我们先计算判别式 $\\Delta_{{{i}}} = {i * i + 1}$，然后求出两个根。" for i in range(20))
    assert judge(zh, r"答案是 \boxed{5}") == "mixed_script"
    cjk = FilterConfig(mixed_script={"allowed_scripts": ["latin", "han"]})
    assert judge(zh, r"答案是 \boxed{5}", cfg=cjk) is None
    assert judge(zh + " Итак, ответ пять.", cfg=cjk) == "mixed_script"
    one_word = prose(200) + " 所以 " + prose(200, 200)  # two characters in ~25k letters
    assert judge(one_word, cfg=FilterConfig(mixed_script={"max_share": 0.0})) == "mixed_script"
    assert judge(one_word) is None
    assert judge(PROSE + " 所以我们需要重新计算这个和。", cfg=FilterConfig(mixed_script=False)) is None


def test_only_a_bounded_sample_is_examined_for_scripts():
    trace = PROSE * 300 + "让我们" + PROSE * 300  # ~1 MB
    sample = script_sample(trace)
    assert len(sample) <= SCRIPT_SLICES * (SCRIPT_SLICE_CHARS + 1)
    assert sample.startswith(trace[:100]) and sample.endswith(trace[-100:])  # spread over the whole trace
    widespread = "".join(PROSE[:400] + "让我们重新计算一下。" for _ in range(2500))  # a switch every 400 chars
    assert is_mixed_script(script_sample(widespread), ScriptFilter())
    assert script_sample(PROSE) == PROSE


# --- final answer, hedging, over-length ---------------------------------------------------------

def test_require_boxed():
    assert judge(PROSE, "The answer is 12.") is None
    boxed = FilterConfig(require_boxed=True)
    assert judge(PROSE, "The answer is 12.", cfg=boxed) == "no_answer"
    assert judge(PROSE, BOX, cfg=boxed) is None


def test_hedged_policy():
    response = r"It is either $\boxed{3}$ or $\boxed{12}$."
    hedged = verify("12", response)
    assert hedged.reason == "hedged"
    assert answer_policy(hedged, "12", CFG, 5.0) == hedged
    last = FilterConfig(hedged="accept_last")
    assert answer_policy(hedged, "12", last, 5.0).reason == "correct"
    assert answer_policy(verify("3", response), "3", last, 5.0).reason == "wrong_answer"


def _sample(answer, reasoning=PROSE):
    return dict(sample_id="s", problem_id="p", messages=[{"role": "user", "content": "q"}], reasoning=reasoning,
                answer=answer, finish_reason="stop", think_closed=True, outcome="ok")


def test_judge_batch_applies_over_length_and_the_hedged_policy():
    tok = str(ROOT / "datasets" / "demo" / "tokenizer.json")

    def reason(answer, cfg, reasoning=PROSE):
        return judge_batch([_sample(answer, reasoning)], {"p": "12"}, tok, cfg, 5.0)["reason"][0].as_py()

    assert reason(BOX, CFG) == "correct"
    assert reason(BOX, FilterConfig(max_total_tokens=10)) == "over_length"
    assert reason(r"$\boxed{3}$ or $\boxed{12}$", CFG) == "hedged"
    assert reason(r"$\boxed{3}$ or $\boxed{12}$", FilterConfig(hedged="accept_last")) == "correct"
    assert reason(BOX, CFG, PROSE + " 所以我们需要重新计算。") == "mixed_script"


def test_judge_batch_reads_answers_under_the_verify_options(tmp_path):
    tok = str(ROOT / "datasets" / "demo" / "tokenizer.json")

    def reason(options):
        return judge_batch([_sample(r"\boxed{12, -1}")], {"p": "-1, 12"}, tok, CFG, 5.0,
                           options=options)["reason"][0].as_py()

    assert reason(None) == "correct"
    assert reason(Options(ordered_lists=True)) == "wrong_answer"
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE.replace("filters:\n", "verify: {prose_answers: true, ordered_lists: true}\n"))
    assert options_of(load_pipeline(path).verify) == Options(prose=True, ordered_lists=True)


# --- the pipeline file --------------------------------------------------------------------------

PIPELINE = """
name: t
sources: [{name: a, kind: jsonl, path: problems.jsonl}]
teacher: {base_url: "http://127.0.0.1:1/v1", model: m}
tokenizer: {name: tok.json}
filters:
"""


def _load(tmp_path, filters):
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE + "".join(f"  {line}\n" for line in filters))
    return load_pipeline(path).filters


def test_every_filter_is_configured_in_yaml(tmp_path):
    cfg = _load(tmp_path, ["repetition: false", "mixed_script: {allowed_scripts: [latin, kana, han], max_share: 0.01}",
                           "hedged: accept_last", "require_boxed: true", "max_total_tokens: 16384"])
    assert not cfg.repetition.enabled and cfg.mixed_script.allowed_scripts == ["latin", "kana", "han"]
    assert cfg.hedged == "accept_last" and cfg.require_boxed and cfg.max_total_tokens == 16384
    assert _load(tmp_path, ["repetition: {min_repeats: 4, window_chars: 4096}"]).repetition.min_repeats == 4


@pytest.mark.parametrize("line, words", [
    ("hedged: maybe", ["filters.hedged", "reject", "accept_last"]),
    ("mixed_script: {allowed_scripts: [han]}", ["allowed_scripts", "must include 'latin'"]),
    ("mixed_script: {allowed_scripts: [latin, klingon]}", ["allowed_scripts", "cyrillic"]),
    ("max_total_tokens: 100000", ["filters.max_total_tokens", "32768"]),
    ("repetition: {min_repeat: 3}", ["filters.repetition.min_repeat", "unknown key"]),
])
def test_bad_filter_settings_are_one_line_naming_the_key(tmp_path, line, words):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, [line])
    assert all(w in str(e.value) for w in words) and "\n" not in str(e.value)
