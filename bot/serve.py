"""`ftbot serve`: the bot on the transport the settings call for, until interrupted.

- SLACK_BOT_TOKEN + SLACK_APP_TOKEN → Socket Mode (no public URL needed);
- SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET and --http → the Events API over HTTP on /slack/events;
- no Slack tokens → local: the project's Slack stand-in, with a web chat to talk to the bot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from slack_sdk import WebClient

from bot import metrics
from bot.app import SLACK_API_URL, SlackBot, SlackConnection
from bot.commands import Schedule
from bot.standins.slack import SlackStandIn
from bot.transports import HttpTransport, SocketModeTransport, Transport
from connectors.anonymize import anonymizer_for
from connectors.slack_directory import directory_names
from ftbot.answering.answer import Answerer
from ftbot.config import ConfigError, Settings
from ftbot.storage.db import Database


@dataclass(frozen=True)
class RunningBot:
    bot: SlackBot
    transport: Transport
    standin: SlackStandIn | None = None  # set in local mode


@dataclass(frozen=True)
class ServeOptions:
    http: bool = False
    host: str = "0.0.0.0"
    port: int = 3000


@contextmanager
def running_bot(
    settings: Settings,
    db: Database,
    options: ServeOptions,
    say: Callable[[str], None] = print,
    answerer: Answerer | None = None,
    schedule: Schedule | None = None,
) -> Iterator[RunningBot]:
    """The bot wired to its transport (not yet serving, except the local stand-in); all closed on exit.

    Training (the worker, the scheduler) is composed beside it by ftbot/cli/serve.py; `schedule` is what
    `/finetune schedule` shows and sets."""
    _check_credentials(settings, options)
    with ExitStack() as stack:
        standin: SlackStandIn | None = None
        if settings.slack_bot_token is None:
            standin = SlackStandIn(port=settings.slack.standin_port)
            stack.callback(standin.close)
            connection = SlackConnection(standin.bot_token, standin.signing_secret, standin.api_url)
        else:
            secret = settings.slack_signing_secret if options.http else None
            connection = SlackConnection(
                settings.slack_bot_token.get_secret_value(),
                secret.get_secret_value() if secret else None,
                settings.slack_api_url,
            )
        if answerer is None or answerer.anonymizer is None:
            # The member directory's names are masked in any language, where spaCy alone misses many.
            names = directory_names(WebClient(token=connection.bot_token, base_url=connection.api_url or SLACK_API_URL))
            anonymizer = anonymizer_for(settings, known_names=names)
            answerer = Answerer(settings, db, anonymizer=anonymizer)
        assert answerer.anonymizer is not None
        bot = SlackBot(
            settings,
            db,
            answerer,
            answerer.anonymizer,
            connection,
            schedule=schedule,
        )
        stack.callback(bot.close)
        transport: Transport
        if standin is not None:
            transport = HttpTransport(bot.app, host="127.0.0.1", port=0)
            standin.request_url = transport.url
            say(f"No Slack tokens set: running against the local Slack stand-in. Chat with the bot: {standin.base_url}")
        elif options.http:
            transport = HttpTransport(bot.app, host=options.host, port=options.port)
            say(f"Listening for Slack on http://{options.host}:{options.port}/slack/events (health: /healthz)")
        else:
            assert settings.slack_app_token is not None  # checked above
            transport = SocketModeTransport(bot.app, settings.slack_app_token.get_secret_value())
            say("Connecting to Slack over Socket Mode.")
        stack.callback(transport.close)
        if settings.metrics_port is not None:
            stack.callback(metrics.serve_metrics(settings.metrics_port))
            say(f"Prometheus metrics on http://0.0.0.0:{settings.metrics_port}/metrics")
        yield RunningBot(bot, transport, standin)


def _check_credentials(settings: Settings, options: ServeOptions) -> None:
    """Fail at start-up with the fix, not with a Slack error later."""
    if settings.slack_bot_token is None:
        if options.http:
            raise ConfigError("--http needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (see deploy/README.md)")
        return
    if options.http and settings.slack_signing_secret is None:
        raise ConfigError("set SLACK_SIGNING_SECRET (Basic Information → App Credentials) to serve over --http")
    if not options.http and settings.slack_app_token is None:
        raise ConfigError(
            "set SLACK_APP_TOKEN (an xapp- token with connections:write) for Socket Mode, "
            "or serve over HTTP with --http and SLACK_SIGNING_SECRET"
        )
