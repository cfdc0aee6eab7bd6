"""The simulated teacher: an OpenAI-compatible test double with fault injection (it says so).

Example:
    from factory.config import SimulatedTeacherConfig
    from factory.simteacher import SimTeacher

    with SimTeacher(SimulatedTeacherConfig(), {"What is 2+2?": "4"}) as sim:
        print(sim.base_url)  # http://127.0.0.1:PORT/v1
"""

from factory.simteacher.lookup import ProblemIndex
from factory.simteacher.server import OUTCOMES, SimTeacher, make_app, serve
from factory.simteacher.traces import equivalent_form, fallback_answer, wrong_answer

__all__ = ["OUTCOMES", "ProblemIndex", "SimTeacher", "equivalent_form", "fallback_answer", "make_app", "serve",
           "wrong_answer"]
