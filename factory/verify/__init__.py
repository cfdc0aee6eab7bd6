"""The verifier: extract a model's final answer and decide whether it matches the reference.

Safe on untrusted model output: answers are parsed into a whitelisted AST (never eval'd or given to
a sympy parser), evaluated exactly under size bounds, and only the rare symbolic leftovers go to
sympy, in a killable worker process with a memory cap.

    from factory.verify import verify, verify_batch, extract_answer, check_trace, Verdict
    from factory.verify import prepare_reference, verify_prepared  # a reference parsed once, reused
    from factory.verify import Options  # readings where graders differ: verify(ref, resp, options=...)
"""

from factory.verify.compare import Verdict, prepare_reference, verify, verify_batch, verify_prepared
from factory.verify.extract import extract_answer
from factory.verify.filters import check_trace
from factory.verify.options import Options
from factory.verify.sandbox import SandboxUnavailable

__all__ = ["Options", "SandboxUnavailable", "Verdict", "check_trace", "extract_answer", "prepare_reference", "verify",
           "verify_batch", "verify_prepared"]
