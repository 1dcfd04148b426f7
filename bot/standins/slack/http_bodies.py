"""Reading requests as Slack's servers do: query string, form, JSON or multipart body, and the token."""

from __future__ import annotations

import json
import urllib.parse
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any


def request_args(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    """All arguments of a Web API call; body fields win over query fields, as on slack.com."""
    args: dict[str, Any] = dict(urllib.parse.parse_qsl(query))
    if not body:
        return args
    if content_type.startswith("application/json"):
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            args |= parsed
    elif content_type.startswith("multipart/form-data"):
        args |= {name: _text_or_bytes(value) for name, value in multipart_fields(content_type, body).items()}
    else:
        args |= dict(urllib.parse.parse_qsl(body.decode("utf-8", errors="replace")))
    return args


def multipart_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """The parts of a multipart/form-data body by field name, each as raw bytes."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def upload_bytes(content_type: str, body: bytes) -> bytes:
    """The file in a POST to an upload URL: the raw body (slack_sdk), or the `file` part of a multipart form."""
    if content_type.startswith("multipart/form-data"):
        fields = multipart_fields(content_type, body)
        return fields.get("file", fields.get("filename", b""))
    return body


def bearer_token(headers: Message) -> str | None:
    """The token from `Authorization: Bearer xoxb-…`, the way slack_sdk sends it."""
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if scheme != "Bearer" or not token.strip():
        return None
    return token.strip()


def _text_or_bytes(value: bytes) -> str | bytes:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value
