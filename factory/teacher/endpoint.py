"""Resolve where the teacher is (config, environment, flags) and check it answers before any work."""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

from factory.config import PriceConfig, RayConfig, TeacherConfig
from factory.errors import ConfigError, TeacherUnreachable
from factory.log import log
from factory.redact import public_endpoint


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str  # never written anywhere; lives only in memory and in the workers' clients
    weight: float = 1.0
    price: PriceConfig | None = None


def _env(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} (the teacher's {what}) is not set; export it or "
                          f"set teacher.{what} in the pipeline file")
    return value


def _key(env_name: str | None) -> str:
    if not env_name:
        return ""
    key = os.environ.get(env_name, "")
    if not key:
        raise ConfigError(f"environment variable {env_name} (the teacher's API key) is not set; export it "
                          "before the run")
    return key


def _checked_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"teacher URL {public_endpoint(url)!r} is not an http(s) URL; pass e.g. "
                          "http://127.0.0.1:8000/v1")
    return url.rstrip("/")


def resolve(teacher: TeacherConfig) -> list[Endpoint]:
    """Base URL, model, key, weight and price of each real (non-simulated) endpoint."""
    model = teacher.model or _env(teacher.model_env, "model")
    if not teacher.endpoints:
        url = teacher.base_url or _env(teacher.base_url_env, "base_url")
        return [Endpoint(_checked_url(url), model, _key(teacher.api_key_env), 1.0, teacher.price)]
    return [
        Endpoint(_checked_url(e.url or _env(e.url_env, "endpoints[].url")), model,
                 _key(e.api_key_env or teacher.api_key_env), e.weight, e.price)
        for e in teacher.endpoints
    ]


def preflight_all(endpoints: list[Endpoint]) -> None:
    """Every endpoint must answer at start: a pool that starts degraded hides a typo in a URL."""
    for endpoint in endpoints:
        preflight(endpoint)


def preflight(endpoint: Endpoint, timeout_s: float = 10.0) -> None:
    """Fail fast, in one line, when the teacher cannot be reached at all."""
    url = endpoint.base_url + "/models"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {endpoint.api_key or 'unused'}"})
    shown = public_endpoint(endpoint.base_url)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s):
            return
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise TeacherUnreachable(f"teacher at {shown} refused the API key (HTTP {e.code}); check the key's "
                                     "environment variable") from None
        if e.code == 404:
            raise TeacherUnreachable(f"no OpenAI-compatible API at {shown} (GET /models answered 404); the base "
                                     "URL usually ends in /v1") from None
        return  # it answered, if unhappily (5xx): the run's retries deal with that
    except (urllib.error.URLError, OSError, ValueError) as e:
        why = getattr(e, "reason", e)
        raise TeacherUnreachable(f"teacher at {shown} is unreachable ({why}); check --teacher-url or "
                                 "teacher.base_url and that the server is running") from None


class Endpoints(list):
    """The run's endpoints; `release()` stops the servers the factory started for them (`teacher.serve`) and
    returns how long each held its GPUs (nothing for servers someone else runs)."""

    def __init__(self, endpoints, release=None):
        super().__init__(endpoints)
        self._release = release

    def release(self) -> list[dict]:
        return self._release() if self._release is not None else []


@contextlib.contextmanager
def serving_endpoints(teacher: TeacherConfig, answers: dict[str, str], ray: RayConfig | None = None):
    """Yield the endpoints to ask (`Endpoints`), each checked to answer; a simulated teacher (knowing `answers`,
    problem text -> reference) or the servers of `teacher.serve` (on the run's Ray, `ray`) are served for as
    long as the block runs."""
    sim = teacher.simulated
    if teacher.serve is not None:
        # imported here: Ray is loaded only when the factory runs the teacher's servers itself
        from factory.executor.serve_replicas import serve_replicas

        model, key = teacher.model or _env(teacher.model_env, "model"), _key(teacher.api_key_env)
        price = teacher.price
        if price is not None:  # `gpu_hour` is per GPU here; an endpoint's price is that of all its GPUs
            price = price.model_copy(update={"gpu_hour": price.gpu_hour * teacher.serve.gpus_per_replica})
        with serve_replicas(teacher.serve, model, ray or RayConfig()) as replicas:
            endpoints = Endpoints([Endpoint(url, model, key, 1.0, price) for url in replicas.urls],
                                  release=replicas.stop)
            preflight_all(endpoints)
            yield endpoints
        return
    if sim is None:
        endpoints = resolve(teacher)
        preflight_all(endpoints)
        yield Endpoints(endpoints)
        return
    from factory.simteacher import SimTeacher

    with SimTeacher(sim, answers) as server:
        log(f"[teacher] simulated teacher (a test double) serving on {server.base_url}")
        yield Endpoints([Endpoint(server.base_url, teacher.model or sim.model, "", price=teacher.price)])
