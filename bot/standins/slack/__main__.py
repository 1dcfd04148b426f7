"""`python -m bot.standins.slack`: run the stand-in on its own, for a demo against a bot started separately."""

from __future__ import annotations

import argparse
import logging

from bot.standins.http import serve_until_interrupted
from bot.standins.slack.server import SlackStandIn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.standins.slack", description=__doc__)
    parser.add_argument("--port", type=int, default=3999, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--request-url", help="the bot's Request URL, e.g. http://127.0.0.1:3000/slack/events")
    parser.add_argument("--signing-secret", default="standin-signing-secret")
    parser.add_argument("--bot-token", default="xoxb-standin-bot-token")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    standin = SlackStandIn(
        port=args.port, request_url=args.request_url, signing_secret=args.signing_secret, bot_token=args.bot_token
    )
    print(f"Web chat:        {standin.base_url}")
    print(f"Web API:         {standin.api_url}  (slack_sdk WebClient base_url)")
    print(f"Request URL:     {standin.request_url or '(none yet: pass --request-url)'}")
    print(f"Bot token:       {standin.bot_token}")
    print(f"Signing secret:  {standin.signing_secret}")
    serve_until_interrupted(standin)


if __name__ == "__main__":
    main()
