"""The Slack half of ``crm-bot doctor``: is the token valid, and does the app have every scope."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from assistant.errors import UserFacingError
from assistant.ops.doctor import Check

REQUIRED_SCOPES = ("app_mentions:read", "chat:write", "commands", "im:history", "users:read", "channels:read",
                   "groups:read", "im:read", "im:write", "mpim:read", "files:write", "channels:history",
                   "groups:history", "usergroups:read")
"""The bot scopes of deploy/slack-app-manifest.yml (a test keeps the two in step)."""


class SlackTokenError(UserFacingError):
    """The bot token does not work (or Slack cannot be reached); the message says what to do."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(f"{detail}: {fix}")
        self.detail, self.fix = detail, fix


@dataclass(frozen=True)
class BotIdentity:
    """Who the token is: the workspace and the bot user, and the scopes it was granted."""

    team: str
    team_id: str
    user: str
    user_id: str
    missing_scopes: tuple[str, ...]

    def __str__(self) -> str:
        return f"bot @{self.user} ({self.user_id}) in workspace {self.team} ({self.team_id})"


def identify(client: WebClient) -> BotIdentity:
    """``auth.test`` with the bot token: who it is, or ``SlackTokenError`` saying how to fix it."""
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown")
        raise SlackTokenError(f"Slack refused the bot token (auth.test answered {error})",
                              "check SLACK_BOT_TOKEN: copy the Bot User OAuth Token (xoxb-...) from the app's "
                              "OAuth & Permissions page") from None
    except OSError as exc:
        raise SlackTokenError(f"Slack is not reachable ({exc})",
                              "check the network (or SLACK_API_URL, which only a local fake Slack needs)") from None
    granted = {s.strip() for s in str(response.headers.get("x-oauth-scopes", "")).split(",") if s.strip()}
    return BotIdentity(team=str(response.get("team", "?")), team_id=str(response.get("team_id", "?")),
                       user=str(response.get("user", "?")), user_id=str(response.get("user_id", "?")),
                       missing_scopes=tuple(s for s in REQUIRED_SCOPES if s not in granted))


def slack_checks(client: WebClient) -> list[Check]:
    """``auth.test`` with the bot token, and the scopes Slack reports it was granted."""
    try:
        bot = identify(client)
    except SlackTokenError as exc:
        return [Check("Slack token", False, exc.detail, exc.fix)]
    found = [Check("Slack token", True, f"valid: {bot}")]
    if bot.missing_scopes:
        found.append(Check("Slack scopes", False, "missing: " + ", ".join(bot.missing_scopes),
                           "add them (or paste deploy/slack-app-manifest.yml again) and reinstall the app"))
    else:
        found.append(Check("Slack scopes", True, f"all {len(REQUIRED_SCOPES)} granted"))
    return found
