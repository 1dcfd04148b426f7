"""`ftbot serve`: the bot on the transport the settings call for, until interrupted.

- SLACK_BOT_TOKEN + SLACK_APP_TOKEN → Socket Mode (no public URL needed);
- SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET and --http → the Events API over HTTP on /slack/events;
- no Slack tokens → local: the project's Slack stand-in, with a web chat to talk to the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from bot.answer import Answerer
from bot.app import SlackBot, SlackConnection
from bot.slack_standin import SlackStandIn
from bot.transports import HttpTransport, SocketModeTransport, Transport
from connectors.anonymize import Anonymizer
from ftbot.config import ConfigError, Settings
from ftbot.storage.db import Database

log = logging.getLogger(__name__)


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
    worker: bool = True  # run the training worker in this process (a GPU host runs `ftbot worker` instead)
    scheduler: bool = True


def serve(settings: Settings, db: Database, options: ServeOptions, say: Callable[[str], None] = print) -> None:
    """Run the bot until Ctrl-C."""
    with running_bot(settings, db, options, say) as running:
        try:
            running.transport.serve_forever()
        except KeyboardInterrupt:
            say("Stopping.")


@contextmanager
def running_bot(
    settings: Settings,
    db: Database,
    options: ServeOptions,
    say: Callable[[str], None] = print,
    answerer: Answerer | None = None,
) -> Iterator[RunningBot]:
    """The bot wired to its transport (not yet serving, except the local stand-in); all closed on exit."""
    _check_credentials(settings, options)
    if answerer is None or answerer.anonymizer is None:
        anonymizer = Anonymizer(spacy_model=settings.spacy_model, allow_list=settings.allow_list)
        answerer = Answerer(settings, db, anonymizer=anonymizer)
    assert answerer.anonymizer is not None
    anonymizer = answerer.anonymizer
    with ExitStack() as stack:
        bot_options = {"run_worker": options.worker, "run_scheduler": options.scheduler}
        transport: Transport
        standin: SlackStandIn | None = None
        if settings.slack_bot_token is None:
            standin = SlackStandIn(port=settings.slack.standin_port)
            stack.callback(standin.close)
            connection = SlackConnection(standin.bot_token, standin.signing_secret, standin.api_url)
            bot = SlackBot(settings, db, answerer, anonymizer, connection, **bot_options)
            stack.callback(bot.close)
            http = HttpTransport(bot.app, host="127.0.0.1", port=0)
            standin.request_url = http.url
            transport = http
            say(f"No Slack tokens set: running against the local Slack stand-in. Chat with the bot: {standin.base_url}")
        else:
            token = settings.slack_bot_token.get_secret_value()
            if options.http:
                assert settings.slack_signing_secret is not None  # checked above
                secret = settings.slack_signing_secret.get_secret_value()
                bot = SlackBot(
                    settings,
                    db,
                    answerer,
                    anonymizer,
                    SlackConnection(token, secret, settings.slack_api_url),
                    **bot_options,
                )
                stack.callback(bot.close)
                transport = HttpTransport(bot.app, host=options.host, port=options.port)
                say(f"Listening for Slack on http://{options.host}:{options.port}/slack/events (health: /healthz)")
            else:
                assert settings.slack_app_token is not None  # checked above
                connection = SlackConnection(token, None, settings.slack_api_url)
                bot = SlackBot(settings, db, answerer, anonymizer, connection, **bot_options)
                stack.callback(bot.close)
                transport = SocketModeTransport(bot.app, settings.slack_app_token.get_secret_value())
                say("Connected to Slack over Socket Mode.")
        stack.callback(transport.close)
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
