"""The demo workspace: an employee, a workspace admin, #general with the bot in it, and DMs with the bot."""

from __future__ import annotations

from bot.standins.slack.workspace import Workspace

ALICE = "U0ALICE"
ADMIN = "U0ADMIN"
GENERAL = "C0GENERAL"
ALICE_DM = "D0ALICE"
ADMIN_DM = "D0ADMIN"


def seed_demo_workspace(workspace: Workspace) -> None:
    """Add the people and channels the demo and the integration tests talk about."""
    workspace.add_user("alice", "Alice Nowak", user_id=ALICE)
    workspace.add_user("ada", "Ada Lindqvist", user_id=ADMIN, is_admin=True)
    members = [ALICE, ADMIN, workspace.identity.bot_user_id]
    workspace.add_channel("general", channel_id=GENERAL, members=members)
    workspace.open_im(ALICE, channel_id=ALICE_DM)
    workspace.open_im(ADMIN, channel_id=ADMIN_DM)
