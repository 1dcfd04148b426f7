"""The shipped Slack app manifest, tested as data: it subscribes to what the bot listens to, grants the
scopes for the Web API methods the bot calls, and declares the /finetune command and interactivity."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "deploy" / "slack-manifest.yml").read_text())
BOT_SOURCES = "\n".join(p.read_text() for p in (ROOT / "bot").glob("*.py"))
HISTORY_SOURCES = "\n".join(p.read_text() for p in (ROOT / "connectors").glob("slack_*.py"))

# Web API method → the bot scope it needs (https://api.slack.com/methods).
SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "reactions_add": "reactions:write",
    "reactions_remove": "reactions:write",
    "users_info": "users:read",
    "users_list": "users:read",
    "files_upload_v2": "files:write",
}
# What the Slack history import reads, by Web API method name: public and private channels' messages.
HISTORY_SCOPES = {
    "conversations.list": {"channels:read", "groups:read"},
    "conversations.history": {"channels:history", "groups:history"},
    "conversations.replies": {"channels:history", "groups:history"},
    "users_list": {"users:read"},
    "auth.test": set(),
}


def test_when_the_bot_listens_to_an_event_then_the_manifest_subscribes_to_it() -> None:
    listened = set(re.findall(r'@app\.event\("([a-z_]+)"\)', BOT_SOURCES))
    subscribed = {event.split(".")[0] for event in MANIFEST["settings"]["event_subscriptions"]["bot_events"]}
    assert listened == subscribed == {"app_mention", "message", "reaction_added", "reaction_removed"}


def test_when_the_bot_calls_a_web_api_method_then_the_manifest_grants_its_scope() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    called = set(re.findall(r"client\.([a-z]+_[A-Za-z0-9_]+)\(", BOT_SOURCES))
    assert called <= set(SCOPES) | {"auth_test", "views_open"}, f"add the scope of {called - set(SCOPES)} here"
    assert {SCOPES[method] for method in called if method in SCOPES} <= scopes
    assert {"app_mentions:read", "im:history", "reactions:read", "commands"} <= scopes


def test_when_the_manifest_is_read_then_it_has_the_finetune_command_and_interactivity() -> None:
    commands = {c["command"]: c for c in MANIFEST["features"]["slash_commands"]}
    assert commands["/finetune"]["url"].endswith("/slack/events")
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["settings"]["interactivity"]["request_url"].endswith("/slack/events")


def test_when_slack_history_is_imported_then_the_manifest_grants_the_scopes_it_reads_with() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    called = set(re.findall(r'_(?:pages|call)\("([a-z]+\.[a-zA-Z]+)"', HISTORY_SOURCES))
    called |= set(re.findall(r"client\.([a-z]+_[A-Za-z0-9_]+)\(", HISTORY_SOURCES)) - {"api_call"}
    assert called == set(HISTORY_SCOPES), f"add the scopes of {called - set(HISTORY_SCOPES)} here"
    assert set().union(*HISTORY_SCOPES.values()) <= scopes
