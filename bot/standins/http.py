"""What the local stand-ins (Slack, an OpenAI-compatible model server) share: a threaded HTTP server served
from a background thread, a handler that routes GET and POST to one method, and a command line's wait."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

log = logging.getLogger(__name__)


class RoutingHandler(BaseHTTPRequestHandler):
    """GET and POST both go to `_route(verb)`; requests are logged at debug level instead of to stderr."""

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http: " + format, *args)  # the default writes every request to stderr

    def _route(self, verb: str) -> None:
        raise NotImplementedError


class BackgroundServer:
    """Serves an HTTP server from a daemon thread until `close()`; a context manager that closes on exit."""

    _http: ThreadingHTTPServer
    _thread: threading.Thread

    def _serve_in_background(self, http: ThreadingHTTPServer, name: str) -> None:
        self._http = http
        # A short poll interval makes close() quick: shutdown() waits for the serve loop to look up.
        self._thread = threading.Thread(
            target=http.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve_until_interrupted(server: BackgroundServer) -> None:
    """A command line's stand-in: serve until Ctrl-C, then close."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
