"""A tiny HTTP server on 127.0.0.1 for tests of outgoing requests, where `responses` cannot show
the behaviour (proxies from the environment, redirects, read timeouts, what reached the wire)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# A reply that never comes: the handler holds the connection open until the server closes.
HANG = "hang"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # an absolute URL when the server was used as a proxy
    headers: dict[str, str]
    body: bytes


class LocalServer:
    """Answers each request with the next scripted reply (the last one repeats) and records what
    it received. Use as a context manager."""

    def __init__(self, *replies: Reply | str) -> None:
        self.replies = list(replies) or [Reply()]
        self.received: list[Received] = []
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.received.append(Received(self.command, self.path, dict(self.headers), body))
                reply = server.replies.pop(0) if len(server.replies) > 1 else server.replies[0]
                if reply == HANG:
                    server._release.wait()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"{self.base}{path}"

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def proxy_in_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A proxy on 127.0.0.1 named by every proxy variable, with nothing exempted; it answers
    every request itself, so a request that went through it is easy to tell."""
    with LocalServer(Reply(200, body=b"from the proxy")) as proxy:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.base)
        yield proxy
