"""`teacher.serve` on Ray: the run's own teacher servers, one Ray actor per replica.

Each replica reserves its GPUs (and a CPU) in a placement group of its own, one bundle packed on one node
(a tensor-parallel server cannot span nodes), so replicas spread over the cluster's nodes. Inside the actor a
`Supervisor` (`server_process`) starts the server, waits until it answers, restarts it when it crashes and
stops its whole process group at the end. The driver starts every replica on the run's Ray (the same
instance the executor uses), watches them for the log, and stops them all when the run ends, fails or is
interrupted; how long each held its GPUs is what the run is charged for.
"""

from __future__ import annotations

import contextlib
import threading
import time

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from factory.config import RayConfig, ServeConfig
from factory.executor.ray_cluster import start_ray
from factory.executor.server_process import GROUP_EXIT_WAIT_S, ServeError, Supervisor
from factory.log import log

MONITOR_EVERY_S = 1.0


@ray.remote(max_restarts=0)
class _ReplicaActor:
    """One replica: its server's supervisor, on the node (and GPUs) its placement group holds.

    Restarts are the supervisor's, not Ray's: a crashed server leaves its actor alive, and a restart in
    place keeps the node, the GPUs and the port (so the URL the run's workers hold stays right).
    """

    def __init__(self, name: str, serve: ServeConfig, served_name: str):
        self.sup = Supervisor(name, serve, served_name, ray.util.get_node_ip_address())

    def start(self) -> str:
        return self.sup.start()

    def status(self) -> dict:
        return self.sup.status()

    def stop(self) -> dict:
        return self.sup.stop()


def replica_count(serve: ServeConfig) -> int:
    """`serve.replicas`, or as many as the cluster's nodes hold: each node's GPUs // GPUs per replica."""
    if serve.replicas is not None:
        return serve.replicas
    gpus = [int(n["Resources"].get("GPU", 0)) for n in ray.nodes() if n.get("Alive")]
    count = sum(g // serve.gpus_per_replica for g in gpus)
    if not count:
        raise ServeError(f"teacher.serve needs {serve.gpus_per_replica} GPUs on one node per replica, and the "
                         f"cluster's nodes have {sorted(gpus, reverse=True) or 'no'} GPUs; lower "
                         "tensor_parallel / gpus_per_replica, or join a cluster with GPUs (RAY_ADDRESS)")
    return count


def _unwrapped(e: BaseException) -> BaseException:
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, ServeError) else e


class Replicas:
    """The run's replicas on Ray; `urls` once started; `stop()` (idempotent) returns each one's lifetime."""

    def __init__(self, serve: ServeConfig, served_name: str):
        self.serve, self.served_name = serve, served_name
        self.names: list[str] = []
        self.actors: list = []
        self.groups: list = []
        self.started_at: list[float] = []
        self.urls: list[str] = []
        self.last: dict[str, dict] = {}  # the latest status of each replica, kept for when its actor is gone
        self._seen: dict[str, int] = {}
        self._lifetimes: list[dict] | None = None
        self._quit = threading.Event()
        self._monitor: threading.Thread | None = None

    def start(self) -> None:
        serve, count = self.serve, replica_count(self.serve)
        gpus, cpus = serve.gpus_per_replica, serve.cpus_per_replica
        what = serve.command or f"{serve.engine} {serve.model or self.served_name}"
        log(f"[serve] starting {count} replicas of {what!r} ({gpus} GPUs each)")
        began = time.monotonic()
        bundle = {k: v for k, v in {"GPU": gpus, "CPU": cpus}.items() if v}
        self.names = [f"r{i}" for i in range(count)]
        if bundle:
            # one group per replica: a replica's GPUs on one node, replicas free to land on different nodes
            self.groups = [placement_group([bundle], strategy="STRICT_PACK") for _ in self.names]
            try:
                ray.get([g.ready() for g in self.groups], timeout=serve.startup_timeout_s)
            except ray.exceptions.GetTimeoutError:
                free = ray.available_resources()
                raise ServeError(f"teacher.serve: {count} replicas of {bundle} could not be placed within "
                                 f"startup_timeout_s {serve.startup_timeout_s:g}s (free now: GPU "
                                 f"{free.get('GPU', 0):g}, CPU {free.get('CPU', 0):g}); lower `replicas` or "
                                 "free the GPUs") from None
        now = time.time()
        self.started_at = [now] * count  # GPUs are held from here on, whether the servers are up or not
        for i, name in enumerate(self.names):
            options = dict(num_cpus=cpus, num_gpus=gpus, max_concurrency=4)
            if self.groups:
                options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(self.groups[i], 0)
            self.actors.append(_ReplicaActor.options(**options).remote(name, serve, self.served_name))
        refs = [a.start.remote() for a in self.actors]
        for name, ref in zip(self.names, refs, strict=True):
            try:  # the supervisor enforces startup_timeout_s; this bound only guards against a lost actor
                self.urls.append(ray.get(ref, timeout=serve.startup_timeout_s + 60))
            except ray.exceptions.GetTimeoutError:
                raise ServeError(f"teacher.serve replica {name} did not answer within startup_timeout_s "
                                 f"{serve.startup_timeout_s:g}s") from None
            except ray.exceptions.RayError as e:
                raise _unwrapped(e) from None
        self._poll()
        for name in self.names:
            st = self.last.get(name, {})
            ready = next((e for e in st.get("events", []) if e["kind"] == "ready"), {})
            log(f"[serve] replica {name} ready at {st.get('url')} (pid {st.get('pid')}) in "
                f"{ready.get('seconds', 0):.1f}s")
        log(f"[serve] {count} replicas ready in {time.monotonic() - began:.1f}s")
        self._monitor = threading.Thread(target=self._watch, name="serve-monitor", daemon=True)
        self._monitor.start()

    def _poll(self) -> None:
        """Fetch every replica's status; log what happened to each since the last poll."""
        for name, actor in zip(self.names, self.actors, strict=False):
            if self.last.get(name, {}).get("state") == "lost":
                continue
            try:
                st = ray.get(actor.status.remote(), timeout=10)
            except ray.exceptions.GetTimeoutError:
                continue
            except ray.exceptions.RayError:
                # the actor itself is gone (its node was lost); its server went with it (death signal)
                self.last[name] = self.last.get(name, {}) | {"state": "lost"}
                log(f"[serve] replica {name}'s actor is gone (node lost?); the run goes on without it")
                continue
            self.last[name] = st
            for event in st["events"][self._seen.get(name, 0):]:
                self._report(name, event)
            self._seen[name] = len(st["events"])

    def _report(self, name: str, e: dict) -> None:
        if e["kind"] == "died" and not e.get("first_start"):
            log(f"[serve] replica {name} (pid {e['pid']}) {e['why']}; its requests go to the other replicas")
        elif e["kind"] == "restarting":
            log(f"[serve] replica {name}: restart {e['attempt']} of {e['of']}")
        elif e["kind"] == "ready" and self._seen.get(name):
            log(f"[serve] replica {name} ready again at {e['url']} (pid {e['pid']}) in {e['seconds']:.1f}s")
        elif e["kind"] == "port_changed":
            log(f"[serve] WARNING: replica {name}'s port {e['old']} is held by another program; it restarts on "
                f"port {e['new']}, which this session's teacher workers do not know: it sits out the session")
        elif e["kind"] == "failed" and self._seen.get(name):
            log(f"[serve] replica {name} is down for good: {e['error'].splitlines()[0]}")

    def _watch(self) -> None:
        while not self._quit.wait(MONITOR_EVERY_S):
            try:
                self._poll()
            except Exception as e:  # the log is a courtesy; the run must not die of it
                log(f"[serve] could not poll the replicas: {e!r}")

    def stop(self) -> list[dict]:
        """Stop every server (SIGTERM, SIGKILL after the grace period), then its actor and placement group."""
        if self._lifetimes is not None:
            return self._lifetimes
        self._quit.set()
        if self._monitor is not None:
            self._monitor.join(timeout=15)
        refs = [a.stop.remote() for a in self.actors]
        # fewer actors than names when the start failed early; no start time when no replica was ever placed
        for name, ref in zip(self.names, refs, strict=False):
            try:
                self.last[name] = ray.get(ref, timeout=self.serve.shutdown_grace_s + GROUP_EXIT_WAIT_S + 15)
            except ray.exceptions.RayError:  # gone or stuck: killing the actor kills its server (death signal)
                pass
        for actor in self.actors:
            ray.kill(actor)
        for group in self.groups:
            remove_placement_group(group)
        stopped = time.time()
        self._lifetimes = []
        for name, started in zip(self.names, self.started_at, strict=False):
            st = self.last.get(name, {})
            self._lifetimes.append(dict(
                replica=name, endpoint=st.get("url"), gpus=self.serve.gpus_per_replica, started_at=started,
                stopped_at=stopped, restarts=st.get("restarts", 0), state=st.get("state"),
                events=[{k: v for k, v in e.items() if k in ("kind", "at", "pid", "port", "seconds", "why")}
                        for e in st.get("events", [])]))
        if self.actors:
            hours = sum((r["stopped_at"] - r["started_at"]) * r["gpus"] for r in self._lifetimes) / 3600
            log(f"[serve] {len(self.actors)} replicas stopped ({hours:.3f} GPU-hours)")
        return self._lifetimes


@contextlib.contextmanager
def serve_replicas(serve: ServeConfig, served_name: str, ray_cfg: RayConfig):
    """Start the replicas on the run's Ray, yield them (`.urls`), and stop them on the way out, whatever the
    way out is (the end of the run, an error, Ctrl-C, SIGTERM, which Ray's driver turns into SystemExit)."""
    start_ray(ray_cfg)
    replicas = Replicas(serve, served_name)
    try:
        replicas.start()
        yield replicas
    finally:
        replicas.stop()
