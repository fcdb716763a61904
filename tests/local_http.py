"""A small HTTP server on 127.0.0.1 for download tests: each path answers as a test says.

``serve()`` is a context manager: it starts ``ThreadingHTTPServer`` on a free port in a thread and
shuts it down on exit. Routes map a path to one behaviour:

- ``Body(content)``                 200 with ``content``
- ``Status(403)``                   that status, no body
- ``Redirect("/other", 302)``       a redirect to another path on the same server
- ``Truncated(content, sent)``      ``Content-Length: len(content)`` but only ``sent`` bytes, then close
- ``RefusesPythonAgent(content)``   403 when the User-Agent starts with ``Python-urllib`` (as the
  WikiText author's mirror does), else 200 with ``content``
- ``Unsized(content)``              200 with ``content`` and no ``Content-Length`` (ends at close)

``stalled_url()`` is a port that accepts connections and never answers (timeouts).

Every request is recorded as ``(path, user_agent)``; more than ``MAX_REQUESTS`` answer 500, and each
connection times out after a few seconds, so a broken test cannot hang or loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import socket
import threading

MAX_REQUESTS = 50


@dataclasses.dataclass
class Body:
    content: bytes


@dataclasses.dataclass
class Status:
    code: int


@dataclasses.dataclass
class Redirect:
    location: str
    code: int = 302


@dataclasses.dataclass
class Truncated:
    content: bytes
    sent: int


@dataclasses.dataclass
class RefusesPythonAgent:
    content: bytes


@dataclasses.dataclass
class Unsized:
    content: bytes


class Server:
    def __init__(self, routes: dict):
        self.routes = dict(routes)
        self.requests: list[tuple[str, str]] = []
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(server: Server):
    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = 5  # seconds per connection

        def log_message(self, *args):  # keep pytest output clean
            pass

        def _send(self, code: int, content: bytes = b"", length: int | None = None, **headers):
            self.send_response(code)
            self.send_header("Content-Length", str(len(content) if length is None else length))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)

        def do_GET(self):  # noqa: N802 (the name http.server calls)
            agent = self.headers.get("User-Agent", "")
            server.requests.append((self.path, agent))
            route = server.routes.get(self.path)
            if len(server.requests) > MAX_REQUESTS:
                self._send(500)
            elif route is None:
                self._send(404)
            elif isinstance(route, Body):
                self._send(200, route.content)
            elif isinstance(route, Status):
                self._send(route.code)
            elif isinstance(route, Redirect):
                self._send(route.code, Location=route.location)
            elif isinstance(route, Truncated):
                self._send(200, route.content[: route.sent], length=len(route.content))
                self.close_connection = True
            elif isinstance(route, Unsized):
                self.send_response(200)
                self.end_headers()
                self.close_connection = True
                try:
                    self.wfile.write(route.content)
                except OSError:  # the client stopped reading, as it should
                    pass
            elif isinstance(route, RefusesPythonAgent):
                if agent.startswith("Python-urllib"):
                    self._send(403)
                else:
                    self._send(200, route.content)

    return Handler


@contextlib.contextmanager
def serve(routes: dict):
    """Yield a running :class:`Server` on 127.0.0.1 with ``routes``; stop it afterwards."""
    state = Server(routes)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def refused_url(path: str = "/dead") -> str:
    """A 127.0.0.1 URL on a port nothing listens on (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@contextlib.contextmanager
def stalled_url(path: str = "/stalled"):
    """Yield a 127.0.0.1 URL whose port accepts connections (the kernel's backlog) and never
    answers: a read from it blocks until the client's timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}{path}"
