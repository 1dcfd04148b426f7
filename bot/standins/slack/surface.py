"""What the stand-in's HTTP routes and web chat use of it: its workspace, its limits, and the actions a person
can take. `server.SlackStandIn` implements it; routes.py and ui.py depend on this, not on the server, so the
server can build its HTTP layer without an import cycle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bot.standins.slack.model import JSON
from bot.standins.slack.ratelimit import RateLimits
from bot.standins.slack.response_urls import ResponseUrls
from bot.standins.slack.workspace import Workspace


class StandInSurface(Protocol):
    workspace: Workspace
    bot_token: str
    base_url: str
    rate_limits: RateLimits
    response_urls: ResponseUrls

    # The actions a person takes in the web chat, as server.SlackStandIn defines them (same names, same arguments).
    @property
    def post_message(self) -> Callable[..., Any]: ...
    @property
    def add_reaction(self) -> Callable[..., Any]: ...
    @property
    def remove_reaction(self) -> Callable[..., Any]: ...
    @property
    def click_button(self) -> Callable[..., Any]: ...
    @property
    def slash_command(self) -> Callable[..., str]: ...
    @property
    def submit_view(self) -> Callable[..., Any]: ...
    @property
    def replies(self) -> Callable[[str, str], list[JSON]]: ...
    @property
    def views(self) -> Callable[[str], list[JSON]]: ...
