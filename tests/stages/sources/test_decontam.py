from factory.stages.sources.canonical import canonical, signature
from factory.stages.sources.decontam import ContaminationIndex, EvalItem

LONG = ("Let $ABCD$ be a square with side length $12$. Point $E$ lies on side $CD$ so that $DE = 5$, and the "
        "segment $AE$ meets the diagonal $BD$ at $F$. Find the area of triangle $DEF$ as a common fraction.")
SHORT = "Find the number of positive divisors of $3600$."


def index(n=13, **kw):
    items = [EvalItem("bench", str(i), canonical(t), signature(t)) for i, t in enumerate([LONG, SHORT])]
    args = dict(threshold=0.5, fuzzy_threshold=0.9, short_tokens=24) | kw
    return ContaminationIndex(items, n, args["threshold"], args["fuzzy_threshold"], args["short_tokens"],
                              kw.get("same_numbers", True))


def found(idx, text):
    return [(m.eval_row, m.method, round(m.score, 2)) for m in idx.matches(canonical(text), signature(text))]


def test_a_drifted_long_copy_is_an_ngram_match_with_its_score():
    drifted = "Solve the following math problem. " + LONG.replace("$", "").replace(",", " , ")
    assert found(index(), drifted) == [("0", "ngram", 1.0)]
    assert found(index(n=8), "Some context first. " + LONG + " Explain.") == [("0", "ngram", 1.0)]


def test_the_same_template_with_other_numbers_is_not_contamination_unless_asked():
    other = LONG.replace("$12$", "$10$")
    assert found(index(), other) == []
    assert found(index(same_numbers=False), other)[0][:2] == ("0", "ngram")


def test_short_problems_are_compared_whole():
    assert found(index(), "find the number of positive divisors of \\(3600\\). Put your final answer in \\boxed{}.") \
        == [("1", "fuzzy", 1.0)]
    assert found(index(), "Find the number of positive divisors of $3601$.") == []
    assert found(index(), "Find the number of negative divisors of $3600$.") == []


def test_an_unrelated_problem_matches_nothing():
    assert found(index(), "Compute $\\binom{10}{3}$ and explain which identity you used along the way.") == []
