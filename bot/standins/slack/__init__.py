"""A local stand-in for Slack, for demos and integration tests: `SlackStandIn` serves one workspace."""

from bot.standins.slack.delivery import Delivery
from bot.standins.slack.model import Identity, SlackError
from bot.standins.slack.seed import seed_demo_workspace
from bot.standins.slack.server import ActionResult, SlackStandIn
from bot.standins.slack.signing import sign

__all__ = ["ActionResult", "Delivery", "Identity", "SlackError", "SlackStandIn", "seed_demo_workspace", "sign"]
