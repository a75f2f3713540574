"""The Slack half of ``crm-bot doctor``: is the token valid, and does the app have every scope."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from assistant.ops.doctor import Check

REQUIRED_SCOPES = ("app_mentions:read", "chat:write", "commands", "im:history", "users:read", "channels:read",
                   "groups:read", "im:read", "mpim:read", "files:write", "channels:history", "groups:history",
                   "usergroups:read")
"""The bot scopes of deploy/slack-app-manifest.yml (a test keeps the two in step)."""


def slack_checks(client: WebClient) -> list[Check]:
    """``auth.test`` with the bot token, and the scopes Slack reports it was granted."""
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown")
        return [Check("Slack token", False, f"auth.test answered {error}",
                      "check SLACK_BOT_TOKEN: copy the Bot User OAuth Token from the app's OAuth page")]
    except OSError as exc:
        return [Check("Slack token", False, f"Slack is not reachable: {exc}",
                      "check the network (or SLACK_API_URL, which only a local fake Slack needs)")]
    found = [Check("Slack token", True, f"valid: bot {response.get('user')} in {response.get('team')}")]
    granted = {s.strip() for s in str(response.headers.get("x-oauth-scopes", "")).split(",") if s.strip()}
    missing = [s for s in REQUIRED_SCOPES if s not in granted]
    if missing:
        found.append(Check("Slack scopes", False, "missing: " + ", ".join(missing),
                           "add them (or paste deploy/slack-app-manifest.yml again) and reinstall the app"))
    else:
        found.append(Check("Slack scopes", True, f"all {len(REQUIRED_SCOPES)} granted"))
    return found
