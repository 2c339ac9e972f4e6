"""A real HTTP server on loopback standing in for Slack's webhooks and response URLs: it records what
it receives and answers with the statuses it is told to (429 with Retry-After, 500, 404...)."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SlackStandIn:
    def __init__(self, clock: Callable[[], Any] | None = None) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: deque[int] = deque()  # statuses to answer next, then 200
        self.retry_after = "0"  # the Retry-After header of a 429
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = stand_in.answers.popleft() if stand_in.answers else 200
                record = {
                    "path": self.path,
                    "status": status,
                    "body": json.loads(body or b"{}"),
                    "at": clock() if clock else None,
                }
                stand_in.received.append(record)
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", stand_in.retry_after)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"error")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="slack-stand-in")

    def start(self) -> SlackStandIn:
        self._thread.start()
        return self

    def url(self, path: str) -> str:
        return f"{self.origin}/{path.lstrip('/')}"

    @property
    def origin(self) -> str:
        """Its scheme, host and port: `SLACK_RESPONSE_ORIGINS` of a local run, where Slack's hosts are."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def delivered(self, path: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.received if r["status"] == 200 and (path is None or r["path"] == f"/{path}")]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
