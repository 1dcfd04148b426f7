"""A local stand-in for Slack, for demos and integration tests: `SlackStandIn` serves one workspace."""

from bot.slack_standin.delivery import Delivery
from bot.slack_standin.model import Identity, SlackError
from bot.slack_standin.seed import seed_demo_workspace
from bot.slack_standin.server import ActionResult, SlackStandIn
from bot.slack_standin.signing import sign

__all__ = ["ActionResult", "Delivery", "Identity", "SlackError", "SlackStandIn", "seed_demo_workspace", "sign"]
