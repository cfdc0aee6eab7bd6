"""Generate: ask the teacher for n samples of every problem, exactly once, into the durable journal.

`specs` decides what is missing (new samples, `--retry-failed`, truncated ones a larger budget may
finish); `stage.generate` hands them to `factory.teacher` workers through an executor and journals every
result before it counts; `identity` holds the content-hash sample ids and the rendered prompts; `until`
plans the rounds of `teacher.until` (how many samples each problem still short of accepted traces gets).
"""
