"""The per-endpoint pace: its rules on a clock the test moves, and the whole learning loop against a
fixed-window server run in virtual time, so that minutes of a real per-minute limit take no time."""

import math

import pytest

from factory.teacher.pace import FIRST_PROBE_S, MARGIN, EndpointPace


class Clock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


def run_against_window(samples, per_window, window_s, start=0.0, latency_s=0.5, refuse_s=0.01):
    """Ask `samples` requests, all wanted at once (concurrency above `samples`), of a server accepting
    `per_window` per fixed window of `window_s` (windows start at multiples of it) and refusing the rest
    at once with a bare 429. The client is the pace alone, stepped in virtual time.

    Returns (accepted arrival times, refused arrival times, the pace).
    """
    clock = Clock(start)
    pace = EndpointPace(clock)
    waiting, answers, accepted, refused = samples, [], [], []
    used = {}  # window index -> accepted in it
    while waiting or answers:
        due = min(answers)[0] if answers else math.inf
        ready = pace.ready_at() if waiting else math.inf
        assert min(due, ready) < math.inf, "the pace holds requests back with none out"
        if due <= ready:
            answers.sort()
            at, sent, ok = answers.pop(0)
            clock.now = at
            if ok:
                pace.on_accepted(sent, demand=waiting > 0)
            else:
                pace.on_refused(sent, None)
                waiting += 1
            continue
        clock.now = max(clock.now, ready)
        pace.take(clock.now)
        waiting -= 1
        window = math.floor(clock.now / window_s)
        ok = used.get(window, 0) < per_window
        used[window] = used.get(window, 0) + ok
        (accepted if ok else refused).append(clock.now)
        answers.append((clock.now + (latency_s if ok else refuse_s), clock.now, ok))
    return accepted, refused, pace


@pytest.mark.parametrize("phase", [0.0, 15.0, 45.0, 59.5])
def test_the_issues_run_ends_in_the_ideal_number_of_windows(phase):
    """8 samples, 3 requests a minute: whatever moment of the window the run starts at, the accepted
    requests fall in ceil(8/3) = 3 windows, and beyond the first burst's 5 refusals only the probes
    that find the windows' resets are refused."""
    accepted, refused, pace = run_against_window(8, 3, 60.0, start=600.0 + phase)
    assert len(accepted) == 8
    assert len({math.floor(t / 60) for t in accepted}) == 3
    # 5 from the first burst; then per block at most the probes of a doubling schedule that spans a
    # minute (0.25 s up to 8 s apart: 12 of them) and one paced request that overshoots
    assert len(refused) <= 5 + 2 * (12 + 1), refused


def test_a_long_run_settles_near_the_servers_rate_with_few_refusals():
    accepted, refused, pace = run_against_window(300, 3, 60.0, start=617.0)
    windows = len({math.floor(t / 60) for t in accepted})
    assert len(accepted) == 300
    assert windows <= math.ceil(300 / 3) * 1.15  # within 15% of the ideal 100 windows
    # beyond the first burst (297), refusals come from the pace overshooting now and then: far fewer
    # than the windows the run spans, let alone one per request
    assert len(refused) - 297 <= windows / 2, len(refused)
    assert pace.interval >= 60 / 3 * 0.95  # the pace stays at or below the server's rate, give or take


def test_one_refused_request_blocks_the_endpoint_and_probes_double_apart():
    clock = Clock(100.0)
    pace = EndpointPace(clock)
    for _ in range(4):
        pace.take(clock.now)
    pace.on_accepted(100.0)
    pace.on_refused(100.0, None)
    assert pace.limited(clock.now) and pace.ready_at() == pytest.approx(100.0 + FIRST_PROBE_S)
    pace.on_refused(100.0, None)  # a straggler refused after the block: no new schedule
    assert pace.ready_at() == pytest.approx(100.0 + FIRST_PROBE_S)
    gaps = []
    for _ in range(4):
        clock.now = pace.ready_at()
        pace.take(clock.now)
        assert pace.ready_at() == math.inf  # one probe at a time
        before = clock.now
        pace.on_refused(clock.now, None)
        gaps.append(pace.ready_at() - before)
    assert gaps == pytest.approx([0.5, 1.0, 2.0, 4.0])


def test_an_accepted_probe_sets_the_pace_from_the_cycle():
    clock = Clock(0.0)
    pace = EndpointPace(clock)
    for _ in range(5):
        pace.take(0.0)
    for _ in range(3):
        pace.on_accepted(0.0)
    clock.now = 0.1
    pace.on_refused(0.0, None)
    clock.now = 59.0  # the last refused probe
    pace.take(59.0)
    pace.on_refused(59.0, None)
    clock.now = 61.0
    pace.take(61.0)
    pace.on_accepted(61.0)
    # the reset lies between 59 and 61: the cycle is 60 s for 3 requests, spaced with the margin
    assert pace.cycle_s == pytest.approx(60.0) and pace.per_cycle == 3
    assert pace.interval == pytest.approx(20.0 * (1 + MARGIN))
    assert not pace.limited(61.0) and pace.ready_at() == pytest.approx(61.0 + pace.interval)


def test_a_cycle_with_nothing_accepted_sets_no_pace():
    clock = Clock(0.0)
    pace = EndpointPace(clock)
    pace.take(0.0)
    pace.on_refused(0.0, None)  # refused from the first request: another client used the window up
    clock.now = 30.0
    pace.take(30.0)
    pace.on_accepted(30.0)
    assert pace.interval == 0 and pace.ready_at() <= 30.0


def test_a_hinted_429_waits_as_told_and_teaches_no_pace():
    clock = Clock(0.0)
    pace = EndpointPace(clock)
    for _ in range(4):
        pace.take(0.0)
        pace.on_accepted(0.0)
    pace.take(0.0)
    pace.on_refused(0.0, 2.0)
    assert pace.ready_at() == pytest.approx(2.0)
    clock.now = 2.0
    pace.take(2.0)
    pace.on_accepted(2.0)
    assert pace.interval == 0 and not pace.limited(2.0)


def test_the_rate_grows_slowly_only_while_requests_queue():
    clock = Clock(0.0)
    pace = EndpointPace(clock)
    pace.interval, pace.cycle_s, pace.cycle_start = 20.0, 60.0, 0.0
    pace.on_accepted(1.0, demand=False)
    assert pace.interval == 20.0
    for _ in range(3):  # a cycle's worth of accepted requests, with more waiting: +1% of the rate
        pace.on_accepted(1.0, demand=True)
    assert 1 / pace.interval == pytest.approx(1.01 / 20.0)


def test_exhausted_quota_headers_pause_only_until_their_reset():
    clock = Clock(0.0)
    pace = EndpointPace(clock)
    assert not pace.obey({"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "1s"})
    assert pace.obey({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1m30s"})
    assert pace.ready_at() == pytest.approx(90.0) and pace.limited(0.0)
    assert not pace.obey({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "200ms"})
    assert pace.ready_at() == pytest.approx(90.0)  # a shorter pause does not cut the longer one
