"""The names in a Slack workspace's member directory, for the anonymizer's deny-list."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


def directory_names(client: WebClient) -> list[str]:
    """The people in the workspace's member directory (users.list): real and display names."""
    names: set[str] = set()
    try:
        for page in client.users_list(limit=200):  # slack_sdk follows the cursor
            for user in page.get("members", []):
                if user.get("is_bot") or user.get("deleted") or user.get("id") == "USLACKBOT":
                    continue
                profile = user.get("profile", {})
                names.update(
                    n for n in (user.get("real_name"), profile.get("real_name"), profile.get("display_name")) if n
                )
    except SlackApiError as error:  # without the directory, names are still found by spaCy and patterns
        log.warning("users.list failed (%s); anonymizing without the member directory", error.response.get("error"))
    return sorted(names)
