"""An aiohttp application served on a background thread with its own event loop (loopback by default).

The simulated teacher and `factory eval --model-dir`'s local model server are both served this way, so a
run, a test or a benchmark can start one, use its `base_url`, and stop it, all in one process.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from aiohttp import web


def quiet_runner(app: web.Application) -> web.AppRunner:
    """No access log (CPU), cancel handlers whose client left (a hung request ends with its client),
    and do not wait long for hung requests on shutdown."""
    return web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)


class BackgroundServer:
    """Subclasses build the app (`build_app`); `start()` binds, serves and returns `base_url`."""

    name = "server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self._want_port = host, port
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def build_app(self) -> web.Application:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT/v1`, what an OpenAI client takes as base_url."""
        if self.port is None:
            raise RuntimeError(f"{type(self).__name__} is not started; call start() or use it as a context manager")
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> str:
        """Bind, start serving in a daemon thread and return `base_url`."""
        if self._thread is not None:
            return self.base_url
        # Bound here, so the port is known (and a bind error raised) in the caller's thread.
        sock = socket.create_server((self.host, self._want_port), backlog=4096)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._app = self.build_app()  # an aiohttp app belongs to one loop: a fresh one per start
        started, failure = threading.Event(), []
        self._thread = threading.Thread(target=self._serve, args=(sock, started, failure), daemon=True,
                                        name=self.name)
        self._thread.start()
        if not started.wait(15) or failure:
            self.stop()
            raise RuntimeError(f"{self.name} failed to start: {failure[0] if failure else 'timed out'}")
        return self.base_url

    def _serve(self, sock: socket.socket, started: threading.Event, failure: list) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        runner = quiet_runner(self._app)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, sock, backlog=4096).start())
        except Exception as e:  # reported to start() in the caller's thread
            failure.append(e)
        started.set()
        if not failure:
            loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def stop(self) -> None:
        """Stop serving and join the thread (hung requests are dropped)."""
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
