"""The stand-in's HTTP surface: /api/<method>, upload URLs, response URLs, file downloads and the web UI."""

from __future__ import annotations

import json
import logging
import urllib.parse
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

from bot.standins.http import RoutingHandler
from bot.standins.slack import ui
from bot.standins.slack.http_bodies import bearer_token, request_args, upload_bytes
from bot.standins.slack.model import JSON, SlackError
from bot.standins.slack.ui_page import PAGE
from bot.standins.slack.web_api import call_method

if TYPE_CHECKING:
    from bot.standins.slack.surface import StandInSurface

log = logging.getLogger(__name__)


class StandInHTTPServer(ThreadingHTTPServer):
    """One thread per request: the bot calls the Web API while the stand-in is still waiting on its ack."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, StandInHandler)
        self.standin: StandInSurface | None = None


class StandInHandler(RoutingHandler):
    server: StandInHTTPServer

    def _route(self, verb: str) -> None:
        try:
            self._dispatch(verb)
        except Exception:
            # Whatever went wrong here is a stand-in bug or a malformed request: answer as Slack would, and log.
            log.exception("standin failed on %s %s", verb, self.path)
            self._send_json(500, {"ok": False, "error": "internal_error"})

    def _dispatch(self, verb: str) -> None:
        standin = self.server.standin
        assert standin is not None
        url = urllib.parse.urlsplit(self.path)
        path, body = url.path, self._body()
        content_type = self.headers.get("Content-Type", "")
        if path.startswith("/api/"):
            try:
                args = request_args(url.query, content_type, body)
            except ValueError:
                self._send_json(200, {"ok": False, "error": "invalid_json"})
                return
            self._web_api(standin, path.removeprefix("/api/"), args)
        elif verb == "POST" and path.startswith("/_standin/upload/"):
            self._upload(standin, path.rsplit("/", 1)[-1], upload_bytes(content_type, body))
        elif verb == "POST" and path.startswith("/_standin/respond/"):
            self._respond(standin, path.rsplit("/", 1)[-1], body)
        elif verb == "GET" and path.startswith("/_standin/files/"):
            self._download(standin, path.split("/")[3])
        elif verb == "GET" and path == "/":
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        elif path.startswith("/_standin/"):
            query = dict(urllib.parse.parse_qsl(url.query))
            self._send_json(*ui.handle(standin, path.removeprefix("/_standin/"), query, body))
        else:
            self._send(404, b"not found", "text/plain")

    def _web_api(self, standin: StandInSurface, method: str, args: dict[str, object]) -> None:
        token = bearer_token(self.headers) or args.pop("token", None)
        if token is None:
            self._send_json(200, {"ok": False, "error": "not_authed"})
        elif token != standin.bot_token:
            self._send_json(200, {"ok": False, "error": "invalid_auth"})
        elif (retry_after := standin.rate_limits.take(method)) is not None:
            self._send_json(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        else:
            self._send_json(200, call_method(standin.workspace, method, args))

    def _respond(self, standin: StandInSurface, key: str, body: bytes) -> None:
        try:
            message = json.loads(body)
        except ValueError:
            self._send(400, b"invalid_payload", "text/plain")
            return
        found = isinstance(message, dict) and standin.response_urls.respond(key, message)
        self._send(200 if found else 404, b"ok" if found else b"invalid_token", "text/plain")

    def _upload(self, standin: StandInSurface, file_id: str, data: bytes) -> None:
        try:
            standin.workspace.upload(file_id, data)
        except SlackError:
            self._send(404, b"file_not_found", "text/plain")
            return
        self._send(200, f"OK - {len(data)}".encode(), "text/plain")

    def _download(self, standin: StandInSurface, file_id: str) -> None:
        file = standin.workspace.file(file_id)
        if file is None or file.data is None:
            self._send(404, b"not found", "text/plain")
        else:
            self._send(200, file.data, file.to_api(standin.base_url)["mimetype"])

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
