"""Majority-vote labels for problems without a reference answer (`verify.majority_vote`).

The voters are a problem's samples that passed the trace filters and gave one final answer: their
verdicts (judged first against no reference) hold the extracted answer. Answers are grouped by the
verifier's own equivalence (`\\frac{1}{2}` and `0.5` vote together), never by string equality; the
largest group is the label (none when two groups tie), and the group's share of the voters its agreement.
"""

from __future__ import annotations

import pyarrow as pa

from factory.verify import prepare_reference
from factory.verify.compare import equivalent

# verdict reasons whose `predicted` is one final answer; filters, no_answer and hedged do not vote
VOTING_REASONS = ("no_reference", "no_majority", "correct", "wrong_answer", "unparseable", "timeout",
                  "over_length")
LABEL_SCHEMA = pa.schema([
    pa.field("problem_id", pa.string(), nullable=False), pa.field("label", pa.string()),
    pa.field("agreement", pa.float64(), nullable=False), pa.field("voters", pa.int64(), nullable=False)])


def majority(answers: list[str], timeout_s: float, ordered: bool = False) -> tuple[str | None, int]:
    """The majority answer of `answers` and how many gave it; None when two groups tie for the most.

    The label is the group's most frequent spelling (then the shortest, then the first in sort order),
    so it does not depend on the order the answers come in. `ordered`: lists in another order differ
    (`verify.ordered_lists`).
    """
    groups: list[tuple[object, list[str]]] = []  # (prepared first answer, every answer of the group)
    for answer in answers:
        for ref, members in groups:
            if ref is not None and equivalent(ref, answer, timeout_s, ordered) == "correct":
                members.append(answer)
                break
        else:
            try:
                ref = prepare_reference(answer)
            except Exception:  # an answer the parser refuses still votes, alone
                ref = None
            groups.append((ref, [answer]))
    sizes = sorted((len(members) for _, members in groups), reverse=True)
    members = max(groups, key=lambda g: len(g[1]))[1]
    if len(sizes) > 1 and sizes[0] == sizes[1]:
        return None, sizes[0]
    return min(set(members), key=lambda a: (-members.count(a), len(a), a)), len(members)


def vote_batch(problems: list[tuple[str, list[str]]], min_agreement: float, timeout_s: float,
               ordered: bool = False) -> pa.Table:
    """LABEL_SCHEMA rows for (problem_id, voters' answers in sample order); label null below min_agreement."""
    rows = []
    for pid, answers in problems:
        text, members = majority(answers, timeout_s, ordered)
        share = members / len(answers)
        rows.append(dict(problem_id=pid, label=text if text is not None and share >= min_agreement else None,
                         agreement=share,
                         voters=len(answers)))
    return pa.Table.from_pylist(rows, schema=LABEL_SCHEMA)
