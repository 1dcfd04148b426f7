"""How Slack reaches the bot: Socket Mode, HTTP (Events API), or the local Slack stand-in.

Each transport serves one Bolt app until closed. Which one runs is decided by the settings
(bot.app.choose_transport): Slack tokens → Socket Mode or HTTP; no tokens → the local stand-in.
"""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot import metrics

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


class Transport(Protocol):
    def serve_forever(self) -> None: ...

    def close(self) -> None: ...


class SocketModeTransport:
    """A WebSocket to Slack: no public URL needed (SLACK_APP_TOKEN, an xapp- token)."""

    def __init__(self, app: App, app_token: str) -> None:
        self.handler = SocketModeHandler(app, app_token)

    def serve_forever(self) -> None:
        self.handler.start()  # blocks

    def close(self) -> None:
        self.handler.close()


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow request never blocks shutdown


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("http: " + format, *args)


class HttpTransport:
    """Slack's Events API over HTTP: events, commands and interactivity all POST to /slack/events.

    Bolt checks every request's signature (SLACK_SIGNING_SECRET) and timestamp, answering 401 otherwise.
    GET /healthz answers 200 for load balancers, GET /metrics Prometheus' text format. The server is listening
    once constructed.
    """

    def __init__(self, app: App, host: str = "0.0.0.0", port: int = 3000) -> None:
        bolt = SlackRequestHandler(app, path=EVENTS_PATH)

        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            if environ.get("PATH_INFO") == "/healthz":
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"ok\n"]
            if environ.get("PATH_INFO") == "/metrics":
                start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE)])
                return [metrics.exposition()]
            return bolt(environ, start_response)

        self.server = make_server(host, port, wsgi, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self.port = self.server.server_address[1]
        connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.url = f"http://{connect_host}:{self.port}{EVENTS_PATH}"

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.2)

    def serve_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="ftbot-http", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
