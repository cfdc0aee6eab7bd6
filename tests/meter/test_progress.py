"""The live progress line: figures computed by hand, terminal redraws vs plain log lines, errors by class."""

import io
from collections import Counter

import pytest

from factory.config import PriceConfig
from factory.meter.progress import Progress, attempt_errors

PRICES = {"http://api/v1": PriceConfig(input_per_mtok=1.0, output_per_mtok=4.0),
          "http://gpu/v1": PriceConfig(gpu_hour=3.6)}


def rec(endpoint, outcome, start, end, prompt=None, completion=None, attempts=1, error=None, **extra):
    return dict(endpoint=endpoint, outcome=outcome, started_at=start, finished_at=end, attempts=attempts,
                prompt_tokens=prompt, completion_tokens=completion, error=error, reasoning_source="think_tags",
                **extra)


R1 = rec("http://api/v1", "complete", 100, 110, prompt=1000, completion=3000)  # $0.013 at token prices
R2 = rec("http://api/v1", "failed", 100, 130, attempts=3, error="RateLimitError 429: slow down")
R3 = rec("http://gpu/v1", "complete", 100, 1900, prompt=500, completion=1500, attempts=2)
R4 = rec("http://gpu/v1", "failed", 200, 2000, error="APITimeoutError: Request timed out.")


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_every_few_seconds_with_rate_tokens_errors_cost_and_eta():
    clock, out = Clock(), io.StringIO()
    progress = Progress("generate", 12, every_s=5, stream=out, prices=PRICES, clock=clock)
    assert not progress.live
    clock.t = 1
    progress.add([R1, R2])
    assert out.getvalue() == ""  # less than every_s since the start: nothing yet
    clock.t = 5
    progress.add([R3, R4])
    # 4 done in 5 s; tokens (1000+3000+500+1500)/5 s, completion 4500/5 s; GPU endpoint used from
    # t=100 to t=2000 (1900 s = 0.52777 h x $3.6 = $1.90) plus $0.013 of tokens; 8 left at 0.8/s
    first = ("[generate] 4/12  0.8/s  1,200 tok/s (900 out)  complete 2, failed 2  "
             "errors: 429=1, timeout=1, retried=3  $1.9130  ETA 10s\n")
    assert out.getvalue() == first
    clock.t = 7
    progress.add([])
    assert out.getvalue() == first  # 2 s since the last line
    clock.t = 10
    progress.line(final=True)
    assert out.getvalue() == first + ("[generate] 4/12  0.4/s  600 tok/s (450 out)  complete 2, failed 2  "
                                      "errors: 429=1, timeout=1, retried=3  $1.9130  in 10.0s\n")
    assert "\r" not in out.getvalue() and "\033" not in out.getvalue()
    assert progress.cost == pytest.approx(0.013 + 1900 / 3600 * 3.6)


def test_a_terminal_gets_one_line_redrawn_in_place_and_a_final_newline():
    clock, out = Clock(), Terminal()
    progress = Progress("generate", 10, stream=out, prices=PRICES, clock=clock)
    assert progress.live
    clock.t = 0.25
    progress.add([R1])
    assert out.getvalue() == ""  # redrawn at most every 0.5 s
    clock.t = 0.5
    progress.add([R2])
    drawn = ("\r\033[K[generate] 2/10  4.0/s  8,000 tok/s (6,000 out)  complete 1, failed 1  "
             "errors: 429=1, retried=2  $0.0130  ETA 2s")
    assert out.getvalue() == drawn  # no newline: the next draw overwrites it
    clock.t = 1.0
    progress.line(final=True)
    assert out.getvalue() == drawn + ("\r\033[K[generate] 2/10  2.0/s  4,000 tok/s (3,000 out)  complete 1, failed 1  "
                                      "errors: 429=1, retried=2  $0.0130  in 1.0s\n")


def test_gpu_hours_are_charged_per_endpoint_from_first_request_to_last_answer():
    progress = Progress("generate", 4, stream=io.StringIO(), prices=PRICES, clock=Clock())
    progress.add([rec("http://gpu/v1", "complete", 1000, 1360), rec("http://gpu/v1", "complete", 0, 720)])
    assert progress.cost == pytest.approx(1360 / 3600 * 3.6)  # 0..1360 s, overlap counted once
    progress.add([rec("http://free/v1", "complete", 0, 7200, prompt=10**6, completion=10**6)])  # unpriced
    assert progress.cost == pytest.approx(1.36)
    assert progress.prompt_tokens == 10**6 and progress.tokens == 2 * 10**6


def test_verify_reasons_count_without_tokens_errors_or_cost():
    clock, out = Clock(), io.StringIO()
    progress = Progress("verify", 4, every_s=1, stream=out, clock=clock)
    clock.t = 2
    progress.add(["correct", "correct", "wrong_answer"])
    assert out.getvalue() == "[verify] 3/4  1.5/s  correct 2, wrong_answer 1  ETA 1s\n"


def test_attempt_errors_count_the_classes_the_client_recorded():
    recorded = dict(outcome="complete", attempts=3, error=None,
                    attempt_errors=["InternalServerError 502: Bad gateway", "APITimeoutError: Request timed out."],
                    attempt_classes=["5xx", "connection"])  # the recorded class wins over the text
    assert attempt_errors(recorded) == Counter({"5xx": 1, "connection": 1})


def test_attempt_errors_of_older_journals_are_classed_from_their_descriptions():
    listed = dict(outcome="complete", attempts=3, error=None,
                  attempt_errors=["InternalServerError 502: Bad gateway", "MalformedResponse: no choices"])
    assert attempt_errors(listed) == Counter({"5xx": 1, "malformed": 1})
    # without the list only the final error is known; earlier failed attempts are `retried`
    assert attempt_errors(dict(outcome="failed", attempts=4, error="RateLimitError 429: x")) == \
        Counter({"429": 1, "retried": 3})
    assert attempt_errors(dict(outcome="complete", attempts=2, error=None)) == Counter({"retried": 1})
    assert attempt_errors(dict(outcome="complete", attempts=1, error=None)) == Counter()
    assert attempt_errors(dict(outcome="failed")) == Counter()  # a bare test record: nothing to count
