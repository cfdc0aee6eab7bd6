"""Stage work on Ray: an embedded local instance by default, a cluster when `RAY_ADDRESS` or `ray.address` names one.

With `serve_replicas` (the run's own teacher servers), the only module that imports Ray. Streaming workers run
as async actors (one CPU each, their own event loop and clients) that stream chunks back to the driver; mapped
batches run as plain tasks.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import ray

import factory
from factory.config import RayConfig
from factory.errors import FactoryError, TerminalError
from factory.executor.base import OnChunks, WorkerSpec
from factory.executor.dispatch import Dispatcher, batch_size_for
from factory.executor.guard import Guarded
from factory.log import log

_ACTOR_START_S = 180.0


def cluster_address(cfg: RayConfig) -> tuple[str | None, str]:
    """The cluster to join and who asked for it, or (None, why) for the embedded local instance."""
    if env := os.environ.get("RAY_ADDRESS"):
        return (None, "RAY_ADDRESS=local") if env == "local" else (env, "RAY_ADDRESS")
    if cfg.address == "local":
        return None, "ray.address=local"
    if cfg.address:
        return cfg.address, "ray.address"
    return None, "RAY_ADDRESS and ray.address unset"


DISTRIBUTION = "distill-factory"


def pinned_requirements() -> list[str]:
    """The factory's own dependencies at the versions installed here (not Ray: the cluster runs its own)."""
    from importlib import metadata

    pins = []
    for spec in metadata.requires(DISTRIBUTION) or []:
        if ";" in spec:  # an extra's requirement (`; extra == "train"`): not needed by the stage workers
            continue
        m = re.match(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?", spec)
        name, extras = m.group(1), m.group(2) or ""
        if name.lower() == "ray":
            continue
        pins.append(f"{name}{extras}=={metadata.version(name)}")
    return pins


def runtime_env(cfg: RayConfig) -> dict:
    """What a cluster's workers get: this package as the driver has it, and its dependencies (`ray.pip`)."""
    env: dict = {"py_modules": [str(Path(factory.__file__).parent)]}
    if cfg.pip == "pinned":
        env["pip"] = pinned_requirements()
    elif isinstance(cfg.pip, list) and cfg.pip:
        env["pip"] = list(cfg.pip)
    return env


def start_ray(cfg: RayConfig) -> None:
    """Join the cluster `RAY_ADDRESS` (or `ray.address`) names, else start an embedded local Ray (once)."""
    if ray.is_initialized():
        return
    address, origin = cluster_address(cfg)
    common = dict(logging_level=logging.WARNING, log_to_driver=False, configure_logging=True)
    if address:
        log(f"[ray] joining the cluster at {address} (from {origin})")
        # ship our package to the cluster's workers so they run the same code as the driver
        env = runtime_env(cfg)
        if "pip" in env:
            log(f"[ray] the runtime environment installs {len(env['pip'])} pinned requirements on each node "
                "(once per node; ray.pip: none when the nodes' image has them)")
        try:
            ray.init(address=address, runtime_env=env, **common)
        except ConnectionError as e:
            hint = "" if os.environ.get("RAY_AUTH_MODE") else (
                "; a `ray start --head` cluster uses token auth: export RAY_AUTH_MODE=token (the token is read from "
                "~/.ray/auth_token or RAY_AUTH_TOKEN)")
            raise TerminalError(f"cannot join the Ray cluster at {address} (from {origin}): {e}{hint}") from None
        where = f"cluster at {address} (from {origin})"
    else:
        # the embedded cluster lives on loopback for this run only; Ray's notice about its auth token
        # would print on every run and asks nothing of the user
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        # "local", never None: with no address Ray attaches to whatever cluster its temp dir records
        # (ray_current_cluster), so a `ray start` that died would hang the run and a live one be joined
        ray.init(address="local", include_dashboard=False, **common)
        where = f"embedded local instance ({origin})"
    log(f"[ray] {where}: {int(ray.cluster_resources().get('CPU', 0))} CPUs")


@ray.remote(num_cpus=1)
class _StreamActor:
    """One streaming worker in its own process; every call runs on the actor's event loop."""

    def __init__(self, cls: type, args: tuple):
        self.worker = Guarded(cls(*args))

    async def ready(self) -> bool:
        # built now, not on the first batch: with every worker racing for the CPU at start, one
        # worker's first wave would otherwise go out a few hundred ms after the other's
        self.worker.start()
        # what the imports made (Ray, the worker's libraries) lives as long as the process: frozen, it
        # is no longer walked by every full collection that per-item garbage triggers
        gc.freeze()
        return True

    async def submit(self, items: list) -> None:
        self.worker.call("submit", items)

    async def finish(self, total: int) -> None:
        self.worker.call("finish", total)

    async def ack(self, count: int) -> None:
        self.worker.call("ack", count)

    async def hold(self, until: float, key: str | None = None) -> None:
        self.worker.call("hold", *((until,) if key is None else (until, key)))

    async def results(self):
        async for chunk in self.worker.results():
            yield chunk

    async def close(self) -> None:
        await self.worker.close()


class _ActorHandle:
    def __init__(self, actor):
        self.actor = actor

    def call(self, method: str, *args) -> None:
        getattr(self.actor, method).remote(*args)

    async def chunks(self):
        # backpressure: the actor's yield waits until the driver has taken earlier chunks
        stream = self.actor.results.options(num_returns="streaming", _generator_backpressure_num_objects=2)
        try:
            async for ref in stream.remote():
                yield await ref
        except ray.exceptions.RayTaskError as e:
            # our own errors travel wrapped; unwrapped, they keep their type and one-line message
            if isinstance(e.cause, FactoryError):
                raise e.cause from None
            raise


@ray.remote(num_cpus=1)
def _remote(fn, *args):
    return fn(*args)


class RayExecutor:
    """The `Executor` on Ray (see `factory.executor.base`)."""

    def __init__(self, cfg: RayConfig):
        self.cfg = cfg

    def parallelism(self, limit: int) -> int:
        start_ray(self.cfg)
        # the CPUs free now, not all the cluster's: the run's own teacher servers (teacher.serve) hold theirs in
        # placement groups, and a worker asking for one of those would never start
        return max(1, min(limit, self.cfg.num_workers or int(ray.available_resources().get("CPU", 1))))

    def stream(self, workers: list[WorkerSpec], items: Sequence, on_chunks: OnChunks, max_batch: int) -> None:
        start_ray(self.cfg)
        actors = [_StreamActor.options(max_concurrency=10_000).remote(w.cls, w.args) for w in workers]
        try:
            try:  # all start together, not one second apart
                ray.get([a.ready.remote() for a in actors], timeout=_ACTOR_START_S)
            except ray.exceptions.GetTimeoutError:
                raise TerminalError(f"{len(actors)} workers did not start within {_ACTOR_START_S:.0f}s (each needs "
                                    "a free CPU); lower ray.num_workers or add nodes to the cluster") from None
            except ray.exceptions.RuntimeEnvSetupError as e:
                raise _env_failed(self.cfg, e) from None
            capacities = [w.capacity for w in workers]
            dispatcher = Dispatcher([_ActorHandle(a) for a in actors], capacities, items, on_chunks,
                                    batch_size_for(capacities, max_batch))
            asyncio.run(dispatcher.run())
        finally:
            try:
                ray.get([a.close.remote() for a in actors], timeout=10)
            except Exception:  # an actor that died has nothing left to close
                pass
            for actor in actors:
                ray.kill(actor)

    def share(self, value: Any) -> Any:
        start_ray(self.cfg)
        return ray.put(value)  # a top-level ObjectRef argument reaches a task as its value

    def map(self, fn: Callable[..., Any], batches: Iterable[tuple], on_result: Callable[[Any], None],
            max_in_flight: int | None = None) -> None:
        start_ray(self.cfg)
        limit = max_in_flight or 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        pending: list = []
        try:
            for args in batches:
                pending.append(_remote.remote(fn, *args))
                if len(pending) >= limit:
                    done, pending = ray.wait(pending, num_returns=1)
                    on_result(ray.get(done[0]))
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                on_result(ray.get(done[0]))
        except ray.exceptions.RuntimeEnvSetupError as e:
            raise _env_failed(self.cfg, e) from None


def _env_failed(cfg: RayConfig, error: Exception) -> TerminalError:
    """A node could not build the job's runtime environment: one line, with what to change."""
    last = next((ln.strip() for ln in reversed(str(error).splitlines()) if ln.strip()), type(error).__name__)
    hint = ("ray.pip installs the factory's dependencies on each node through Ray's pip runtime environment, "
            "which needs `virtualenv` on the nodes; install it there, or set ray.pip: none when the nodes' image "
            "has the dependencies") if cfg.pip != "none" else "check the nodes can import the shipped package"
    return TerminalError(f"a Ray node could not set up the run's runtime environment ({last[:300]}); {hint}")

