"""Executors: where stage work runs, and the only part of the factory that knows about Ray.

Two kinds of work, one interface (`Executor`, in `base`):

- `map(fn, batches, on_result)`: a function over batches (the judge stage), results in completion order;
- `stream(workers, items, on_chunks)`: long-lived workers (the teacher's) take items by count and stream
  results back in chunks; the driver makes each group durable (`on_chunks`), then acknowledges it, which
  is what frees a worker's slots (`dispatch`).

`RayExecutor` (`ray_cluster`, which with `serve_replicas` alone imports Ray) runs them on an embedded
local Ray or a cluster; `InProcessExecutor` (`in_process`) runs the same workers on the driver's event
loop. Neither knows what the work computes: a streaming worker is any class with the `StreamWorker`
methods. `serve_replicas` starts the run's own teacher servers (`teacher.serve`) as Ray actors.
"""

from factory.config import RayConfig
from factory.executor.base import Chunk, Executor, StreamWorker, WorkerSpec
from factory.executor.in_process import InProcessExecutor


def ray_executor(cfg: RayConfig) -> Executor:
    """The Ray executor for a pipeline's `ray` settings (Ray is imported only now)."""
    from factory.executor.ray_cluster import RayExecutor

    return RayExecutor(cfg)


__all__ = ["Chunk", "Executor", "InProcessExecutor", "StreamWorker", "WorkerSpec", "ray_executor"]
