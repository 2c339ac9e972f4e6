"""A real HTTP server on loopback standing in for Slack's Web API (`chat.postMessage`, `chat.update`):
it records each call (method, bearer token, JSON body) and answers as Slack does, or with what it is
told to answer next (an HTTP status with Retry-After, an `ok: false` error)."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SlackApiFake:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        # what to answer next, call by call: an HTTP status (429: with `retry_after`), an error code
        # (`ok: false`), or None: as Slack does; then as Slack does
        self.answers: deque[int | str | None] = deque()
        self.retry_after = "0"
        self._next_ts = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                method = self.path.rsplit("/", 1)[-1]
                answer = fake.answers.popleft() if fake.answers else None
                status = 200
                reply: dict[str, Any] = {"ok": True}
                if isinstance(answer, int):
                    status, reply = (
                        answer,
                        {"ok": False, "error": "ratelimited" if answer == 429 else "fatal"},
                    )
                elif isinstance(answer, str):
                    reply = {"ok": False, "error": answer}
                elif method == "chat.postMessage":
                    fake._next_ts += 1
                    reply = {
                        "ok": True,
                        "channel": body.get("channel"),
                        "ts": f"1772442000.{fake._next_ts:06d}",
                    }
                elif method == "chat.update":
                    reply = {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
                fake.calls.append(
                    {
                        "method": method,
                        "auth": self.headers.get("Authorization"),
                        "body": body,
                        "ok": reply["ok"],
                        "ts": reply.get("ts"),
                    }
                )
                data = json.dumps(reply).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", fake.retry_after)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="slack-api-fake")

    def start(self) -> SlackApiFake:
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def done(self, method: str | None = None) -> list[dict[str, Any]]:
        """The calls Slack carried out (ok), of `method` or all."""
        return [c for c in self.calls if c["ok"] and (method is None or c["method"] == method)]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
