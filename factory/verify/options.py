"""The verifier's settings where the right verdict is a convention, not a fact (`verify:` in a pipeline).

The agreement study (tests/bench/bench_verify_agreement.py) reports each setting on real traces. `prose`
defaults to the stricter reading. `ordered_lists` does not: on the real traces the only verdicts it changes
are right answers whose roots are listed in another order (`1, -2` for `-2,1`), so order-free is the
default, as for the solution sets those lists are.
"""

from __future__ import annotations

from dataclasses import dataclass

from factory.config import VerifyConfig


@dataclass(frozen=True)
class Options:
    """How to read an answer where graders differ.

    Attributes:
        prose: Also take an answer stated only in prose, with no box, no "the answer is" and no conclusion
            word: the last math of the closing line (`The curves meet at $(1, 2)$.`). Off, such a response
            has no answer, since the last math of a trace that stops early is an intermediate value.
        ordered_lists: A bare list of answers (`3, 1, 2`, or one box per part) must follow the reference's
            order. Off, a bare list is a collection of answers, compared in any order; a tuple `(3, 1)` is
            always ordered and a set `\\{1, 3\\}` never.
    """

    prose: bool = False
    ordered_lists: bool = False


DEFAULT = Options()


def options_of(cfg: VerifyConfig) -> Options:
    """A pipeline's `verify:` settings as the verifier's `Options`."""
    return Options(prose=cfg.prose_answers, ordered_lists=cfg.ordered_lists)
