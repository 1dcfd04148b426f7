"""Zendesk ticket exports (the Admin Center's NDJSON, or API responses) → one chat record per ticket."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from connectors.exports import (
    RecordError,
    as_object,
    chat_record,
    html_to_text,
    json_values,
    latest_versions,
    message_text,
    records_in,
    required,
    skipped,
    utc_datetime,
)
from ftbot.records import Message, RawRecord, Skipped

# A ticket's `url` is its API address; people open the agent interface's page for the same ticket.
_API_URL = re.compile(r"^(https://[\w.-]+)/(?:api/v2|agent)/tickets/\d+(?:\.json)?$")


@dataclass(frozen=True)
class _Sideloads:
    """What an API response carries beside its tickets: comments by ticket id, and its users' roles."""

    comments: dict[str, list[Any]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # user id → "end-user", "agent" or "admin"

    @classmethod
    def of(cls, page: dict[str, Any]) -> _Sideloads:
        comments: dict[str, list[Any]] = {}
        raw = page.get("comments")
        if isinstance(raw, dict):  # {"4711": [comment, ...]}
            comments = {str(key): value for key, value in raw.items()}
        elif isinstance(raw, list):  # [{"ticket_id": 4711, ...}, ...]
            for comment in raw:
                if isinstance(comment, dict) and comment.get("ticket_id") is not None:
                    comments.setdefault(str(comment["ticket_id"]), []).append(comment)
        users = page.get("users")
        users = users if isinstance(users, list) else []
        roles = {str(u["id"]): str(u.get("role")) for u in users if isinstance(u, dict) and u.get("id") is not None}
        return cls(comments, roles)


class ZendeskConnector:
    """Zendesk tickets with their comments, one chat record each, external id "ticket 4711".

    Reads the Admin Center's JSON export (NDJSON: one ticket per line, its comments embedded) and API
    responses: {"tickets": [...]} (List Tickets, Incremental Export) or {"ticket": {...}}, with comments
    embedded in each ticket or side-loaded beside them, keyed by ticket id or as a list with `ticket_id`.

    The requester's comments are the customer's, everyone else's the agents', unless side-loaded `users`
    give an author's role. Private comments (internal notes) are dropped. A ticket without a public agent
    reply is skipped: it teaches nothing and answers nothing. A ticket that appears twice (incremental
    exports repeat changed tickets) keeps its newest copy.
    """

    kind = "zendesk_export"

    def read(self, path: Path, content: bytes) -> Iterator[RawRecord | Skipped]:
        items: list[RawRecord | Skipped] = []
        for value in json_values(path, content):
            if isinstance(value, Skipped):
                items.append(value)
            else:
                items.extend(self._tickets(path, *value))
        yield from latest_versions(path, items)

    def _tickets(self, path: Path, label: str, value: Any) -> Iterator[RawRecord | Skipped]:
        """The tickets in one JSON value: an API page, {"ticket": {...}}, a list of tickets, or one ticket."""
        if isinstance(value, dict) and "ticket" in value and "tickets" not in value:
            value = {**value, "tickets": [value["ticket"]]}
        is_page = isinstance(value, dict) and "tickets" in value
        sideloads = _Sideloads.of(value) if is_page else _Sideloads()
        for item in records_in(path, label, value, "ticket", "tickets"):
            yield item if isinstance(item, Skipped) else self._ticket(path, *item, sideloads)

    def _ticket(self, path: Path, where: str, ticket: Any, sideloads: _Sideloads) -> RawRecord | Skipped:
        try:
            return _record(as_object(ticket, "a ticket"), sideloads)
        except RecordError as error:
            ticket_id = ticket.get("id") if isinstance(ticket, dict) else None
            return skipped(path, f"ticket {ticket_id}" if ticket_id is not None else where, error)


def _record(ticket: dict[str, Any], sideloads: _Sideloads) -> RawRecord:
    ticket_id = required(ticket, "id")
    comments = ticket.get("comments", sideloads.comments.get(str(ticket_id)))
    if comments is None:
        raise RecordError("missing field 'comments' (export the tickets with their comments)")
    if not isinstance(comments, list):
        raise RecordError("'comments' must be a list of comments")
    requester = str(required(ticket, "requester_id"))
    messages = [message for comment in comments if (message := _message(comment, requester, sideloads))]
    return chat_record(
        f"ticket {ticket_id}",
        messages,
        title=str(ticket.get("subject") or ""),
        url=agent_url(ticket.get("url"), ticket_id),
        created_at=utc_datetime(ticket.get("created_at"), "created_at"),
        updated_at=utc_datetime(ticket.get("updated_at"), "updated_at"),
    )


def _message(raw: Any, requester: str, sideloads: _Sideloads) -> Message | None:
    """A public comment as a message; None for an internal note or an empty comment."""
    part = f"comment {raw['id']}" if isinstance(raw, dict) and raw.get("id") is not None else "a comment"
    comment = as_object(raw, "a comment", part)
    if "public" not in comment:  # fail closed: without it, an internal note would pass for a reply
        raise RecordError("missing field 'public' (needed to leave internal notes out)", part)
    if comment["public"] is not True:
        return None
    author = str(required(comment, "author_id", part))
    plain = [comment.get(key) for key in ("plain_body", "body")]
    text = next((value for value in plain if isinstance(value, str) and value.strip()), None)
    if text is None and isinstance(comment.get("html_body"), str):
        text = html_to_text(comment["html_body"])
    if text is None and not any(isinstance(value, str) for value in plain):
        raise RecordError("missing field 'body'", part)
    text = message_text(text or "", part)
    return Message(_role(author, requester, sideloads), text) if text else None


def _role(author: str, requester: str, sideloads: _Sideloads) -> Literal["user", "assistant"]:
    role = sideloads.roles.get(author)
    if role is not None:
        return "user" if role == "end-user" else "assistant"
    return "user" if author == requester else "assistant"


def agent_url(api_url: Any, ticket_id: Any) -> str:
    """The agent interface's link for a ticket ("https://acme.zendesk.com/agent/tickets/4711"), or ""."""
    match = _API_URL.match(api_url) if isinstance(api_url, str) else None
    return f"{match[1]}/agent/tickets/{ticket_id}" if match else ""
