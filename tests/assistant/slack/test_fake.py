"""The fake Slack itself: it signs like Slack, answers in Slack's shapes, and fails like Slack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from assistant.slack.app import make_client
from assistant.slack.fake import BOT_USER, FakeSlack, sign


@pytest.fixture
def fake() -> FakeSlack:
    with FakeSlack() as running:
        yield running


def test_signature_matches_slacks_published_test_vector(slack_payloads: Path) -> None:
    vector = json.loads((slack_payloads / "slash_command.signing_test_vector.json").read_text())
    stamp = vector["headers"]["X-Slack-Request-Timestamp"]
    assert sign(vector["signing_secret"], stamp, vector["raw_body"]) == vector["expected_signature"]
    verifier = SignatureVerifier(vector["signing_secret"], clock=type("Clock", (), {"now": lambda self: int(stamp)})())
    assert verifier.is_valid(vector["raw_body"], stamp, sign(vector["signing_secret"], stamp, vector["raw_body"]))


def test_web_api_answers_have_slacks_shapes(fake: FakeSlack, slack_payloads: Path) -> None:
    real = json.loads((slack_payloads / "web_api_responses.json").read_text())
    client = WebClient(token="xoxb-test", base_url=fake.url)
    assert client.auth_test()["user_id"] == BOT_USER
    posted = client.chat_postMessage(channel="C0GENERAL", text="hello").data
    assert set(real["chat.postMessage"]) <= set(posted)
    assert set(real["chat.postMessage"]["message"]) <= set(posted["message"]) | {"username"}
    with pytest.raises(SlackApiError) as not_in:
        fake.add_channel("C0SALES", "sales")
        client.chat_postMessage(channel="C0SALES", text="hello")
    assert not_in.value.response.data == real["chat.postMessage.error.not_in_channel"]
    ephemeral = client.chat_postEphemeral(channel="C0GENERAL", user="U0ADMIN01", text="psst").data
    assert set(real["chat.postEphemeral"]) <= set(ephemeral)
    fake.add_channel("G0SECRET", "secret", kind="private")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.chat_postMessage(channel="G0SECRET", text="hello")
    info = client.conversations_info(channel="G0SECRET")["channel"]
    assert info["is_private"] and not info["is_member"]
    with pytest.raises(SlackApiError, match="not_authed"):
        WebClient(base_url=fake.url).chat_postMessage(channel="C0GENERAL", text="x")


def test_invalid_blocks_are_refused_as_slack_does(fake: FakeSlack) -> None:
    client = WebClient(token="xoxb-test", base_url=fake.url)
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[{"type": "section"}] * 51)
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C0GENERAL", text="x",
                                blocks=[{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}])


def test_rate_limits_are_waited_out_by_the_bots_client(fake: FakeSlack, slack_payloads: Path) -> None:
    assert "Retry-After" in json.dumps(json.loads((slack_payloads / "web_api_responses.json").read_text())
                                       ["rate_limited_http"])
    fake.fail_next("chat.postMessage", retry_after=1)
    assert make_client("xoxb-test", fake.url).chat_postMessage(channel="C0GENERAL", text="hi")["ok"]
    assert [c.method for c in fake.calls] == ["chat.postMessage.failed", "chat.postMessage"]
    assert fake.calls[1].at - fake.calls[0].at >= 0.9  # waited for Retry-After
    fake.fail_next("chat.postMessage", retry_after=1)
    with pytest.raises(SlackApiError, match="ratelimited"):
        WebClient(token="xoxb-test", base_url=fake.url).chat_postMessage(channel="C0GENERAL", text="hi")


def test_response_urls_allow_five_uses(fake: FakeSlack) -> None:
    import urllib.request

    url = fake.new_response_url()
    answers = []
    for _ in range(6):
        request = urllib.request.Request(url, data=json.dumps({"text": "hi"}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request) as response:
            answers.append(json.loads(response.read())["ok"])
    assert answers == [True] * 5 + [False]


def test_user_groups_come_from_slack_and_a_missing_scope_means_no_group_roles() -> None:
    from assistant.slack.groups import UserGroups

    with FakeSlack() as fake:
        fake.add_usergroup("S0SALES01", "sales", {"U0ANNA001", "U0BEN0001"})
        fake.add_usergroup("S0LEADS01", "leads", {"U0ANNA001"})
        groups = UserGroups(make_client("xoxb-test", fake.url))
        assert groups("U0ANNA001") == {"S0SALES01", "S0LEADS01"} and groups("U0BEN0001") == {"S0SALES01"}
        assert groups("U0NOBODY1") == frozenset()
        assert len(fake.calls_to("usergroups.list")) == 1  # cached
        fake.scopes.remove("usergroups:read")
        assert UserGroups(make_client("xoxb-test", fake.url))("U0ANNA001") == frozenset()
