from factory.stages.sources.canonical import canonical, signature, tokens
from factory.stages.sources.near_dup import Item, clusters, near_pairs, same_wording


def items(*texts):
    return [Item(canonical(t), signature(t)) for t in texts]


def test_a_copy_with_an_unknown_instruction_is_paired():
    base = ("A bag holds $5$ red and $7$ blue marbles. Two are drawn without replacement. What is the probability "
            "both are red?")
    copy = base + " Give your answer as a common fraction in lowest terms."
    pairs = near_pairs(items(base, copy), threshold=0.6)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]
    assert 0.6 <= pairs[0][2] < 1


def test_one_number_a_variable_or_one_word_keeps_problems_apart():
    base = "If $(x+2)(x-3)=14$, find the sum of the possible values of $x$ for which the equation holds true."
    others = [base.replace("14", "15"), base.replace("$x$ for", "$y$ for"), base.replace("sum", "product")]
    assert near_pairs(items(base, *others), threshold=0.5) == []


def test_same_wording_allows_articles_and_ends_only():
    a = tokens(canonical("Find the area of triangle ABC."))
    assert same_wording(a, tokens(canonical("Find area of the triangle ABC.")))
    assert same_wording(a, tokens(canonical("Find the area of triangle ABC. Show all steps.")))
    assert not same_wording(a, tokens(canonical("Find the perimeter of triangle ABC.")))
    assert not same_wording(a, tokens(canonical("Find the area of isosceles triangle ABC.")))


def test_clusters_are_connected_components():
    assert clusters(5, [(0, 2, 0.9), (2, 4, 0.8)]) == [[0, 2, 4]]
    assert clusters(3, []) == []
