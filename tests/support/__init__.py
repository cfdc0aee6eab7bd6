"""Helpers shared by test modules (on the path through pyproject's `pythonpath = ["tests"]`).

- `runs`: small, realistic run tables (problems, journal samples, verdicts) for store and publish tests;
- `cli`: the real `factory` command in a subprocess, the demo pipeline and copies of it;
- `teacher`: ask settings and sample specs for the simulated teacher, and a scripted loopback teacher
  for replies the simulated one cannot give.
"""
