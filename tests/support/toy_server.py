"""A toy OpenAI-compatible server for the serve tests: `python tests/support/toy_server.py --port P [...]`.

It answers GET /v1/models (200) and GET /health (--health, 200 by default), and can misbehave the ways a
real server does: ignore SIGTERM (--ignore-sigterm), start a helper process that outlives it unless its
process group is killed (--helper, the helper's pid is written to --pidfile), or die after a while (--die-after).
"""

import argparse
import http.server
import os
import signal
import subprocess
import sys
import threading


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--health", type=int, default=200)
    ap.add_argument("--ignore-sigterm", action="store_true")
    ap.add_argument("--helper", action="store_true")
    ap.add_argument("--pidfile")
    ap.add_argument("--die-after", type=float)
    args = ap.parse_args()
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.helper:  # like vLLM's engine process: a child of the server, in its process group
        helper = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                                   "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
        if args.pidfile:
            with open(args.pidfile, "a") as f:
                f.write(f"{os.getpid()} {helper.pid}\n")
    elif args.pidfile:
        with open(args.pidfile, "a") as f:
            f.write(f"{os.getpid()}\n")
    if args.die_after:
        threading.Timer(args.die_after, lambda: os._exit(7)).start()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            status, body = {"/v1/models": (200, b'{"object": "list", "data": [{"id": "toy"}]}'),
                            "/health": (args.health, b"")}.get(self.path, (404, b""))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    print(f"toy server on {args.host}:{args.port}", flush=True)
    http.server.ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
