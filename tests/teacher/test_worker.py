"""The teacher's streaming workers share the run's in-flight cap and rate budgets exactly."""

import pytest

from factory.teacher.worker import TeacherWorker, teacher_workers

from support.teacher import settings


@pytest.mark.parametrize("concurrency, workers, shares", [
    (512, 2, [256, 256]), (513, 2, [257, 256]), (7, 3, [3, 2, 2]), (3, 8, [1, 1, 1]), (1, 1, [1]),
])
def test_the_cap_is_split_exactly_and_never_over_more_workers_than_slots(concurrency, workers, shares):
    specs = teacher_workers(settings("http://x/v1"), concurrency, workers)
    assert [s.capacity for s in specs] == shares and sum(shares) == concurrency
    assert all(s.cls is TeacherWorker and s.args[1] == s.capacity for s in specs)


def test_each_worker_gets_its_share_of_the_rate_budgets():
    specs = teacher_workers(settings("http://x/v1", rpm=600.0, tpm=1_000_000.0), 64, 4)
    assert [(s.args[0].rpm, s.args[0].tpm) for s in specs] == [(150.0, 250_000.0)] * 4
    unlimited = teacher_workers(settings("http://x/v1"), 64, 4)
    assert {(s.args[0].rpm, s.args[0].tpm) for s in unlimited} == {(None, None)}
