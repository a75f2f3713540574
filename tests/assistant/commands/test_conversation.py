"""Questions in words map onto the same commands (offline), and unsure readings are asked back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.commands.conversation import interpret

PHRASINGS = [
    # customer card
    ("tell me about 12347", "/customer", "12347"),
    ("who is 12347?", "/customer", "12347"),
    ("<@U0BOT> tell me about 12748", "/customer", "12748"),
    ("show me customer 17850", "/customer", "17850"),
    ("customer 14646 please", "/customer", "14646"),
    ("look up 13047", "/customer", "13047"),
    ("can I see the card for 12583", "/customer", "12583"),
    ("profile of 1234567", "/customer", "1234567"),
    ("details on jane@example.com", "/customer", "jane@example.com"),
    ("info on customer 15311", "/customer", "15311"),
    ("what's the account 16029 like", "/customer", "16029"),
    ("1234567", "/customer", "1234567"),
    # basket rules
    ("what do people buy with the white hanging heart?", "/crm rules", "white hanging heart"),
    ("what goes with 85123A", "/crm rules", "85123A"),
    ("what is bought with 22423?", "/crm rules", "22423"),
    ("customers who buy 85099B also buy what?", "/crm rules", "85099B"),
    ("show me the basket rules", "/crm rules", ""),
    ("what sells together", "/crm rules", ""),
    ("cross-sell ideas for the jumbo bag red retrospot", "/crm rules", "jumbo bag red retrospot"),
    ("what pairs with the regency cakestand", "/crm rules", "regency cakestand"),
    ("people who buy lunch bags, what else do they buy", "/crm rules", "lunch bags, what they"),
    ("rules for 47566", "/crm rules", "47566"),
    # recommendations
    ("recommend something for 12748", "/crm recommend", "12748"),
    ("what should I offer 12347?", "/crm recommend", "12347"),
    ("what can I sell to 14911", "/crm recommend", "14911"),
    ("suggest products for 13089", "/crm recommend", "13089"),
    ("next best offer for 12681", "/crm recommend", "12681"),
    ("what should I pitch to 17511", "/crm recommend", "17511"),
    ("upsell ideas for 15039", "/crm recommend", "15039"),
    # at risk
    ("who is at risk?", "/crm atrisk", ""),
    ("which customers might leave", "/crm atrisk", ""),
    ("who is about to churn", "/crm atrisk", ""),
    ("show me churn risks", "/crm atrisk", ""),
    ("which champions are at risk", "/crm atrisk", "Champions"),
    ("loyal customers slipping away?", "/crm atrisk", "Loyal"),
    ("who are we losing", "/crm atrisk", ""),
    ("accounts going quiet", "/crm atrisk", ""),
    ("who is at risk in France?", "/crm atrisk", "--country France"),
    ("which champions are at risk in the usa", "/crm atrisk", "Champions --country 'United States'"),
    # segments
    ("who are our champions in Germany?", "/segments", "Champions --country Germany"),
    ("show me loyal customers from EIRE", "/segments", "Loyal --country Ireland"),
    ("who are our customers in the UK?", "/segments", "--country 'United Kingdom'"),
    ("champions in the Channel Islands", "/segments", "Champions --country 'Channel Islands'"),
    ("show me the segments", "/segments", ""),
    ("hibernating customers", "/segments", "Hibernating"),
    ("who are our loyal customers", "/segments", "Loyal"),
    ("tell me about the can't lose them segment", "/segments", "Can't lose them"),
    ("potential loyalists please", "/segments", "Potential loyalists"),
    ("who needs attention? need attention segment", "/segments", "Need attention"),
    ("new customers this week", "/segments", "New"),
    ("lost customers", "/segments", "Lost"),
    # model health
    ("how accurate are the predictions?", "/crm model-health", ""),
    ("can I trust the model", "/crm model-health", ""),
    ("model health", "/crm model-health", ""),
    ("is there drift in the models", "/crm model-health", ""),
    # help
    ("help", "/crm help", ""),
    ("what can you do?", "/crm help", ""),
    ("", "/crm help", ""),
]


def test_there_are_at_least_fifty_phrasings() -> None:
    assert len(PHRASINGS) >= 50


@pytest.mark.parametrize(("question", "command", "text"), PHRASINGS)
def test_phrasing_maps_to_the_command(question: str, command: str, text: str) -> None:
    found = interpret(question)
    assert found.reading is not None, found
    assert found.reading.command == command
    if command != "/crm rules" or text in ("", "85123A", "22423", "85099B", "47566"):
        assert found.reading.text == text
    else:
        assert text.split(maxsplit=1)[0] in found.reading.text


@pytest.mark.parametrize(("question", "readings"), [
    ("12748", ["/customer", "/crm rules"]),        # a customer id or a product code
    ("hello there", ["/crm help", "/segments"]),   # nothing recognisable
    ("recommend", ["/crm help", "/crm recommend"]),  # whom?
])
def test_unsure_readings_are_asked_back_with_the_two_likeliest(question: str, readings: list[str]) -> None:
    found = interpret(question)
    assert found.reading is None
    assert [r.command for r in found.alternatives] == readings
    assert all(r.label for r in found.alternatives)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gets_a_reading_or_two_alternatives(text: str) -> None:
    found = interpret(text)
    assert (found.reading is not None) != bool(found.alternatives)
    assert found.reading is None or found.reading.command.startswith("/")


@pytest.mark.parametrize("question", ["who is at risk in it", "lost customers in time for christmas",
                                      "champions in stock", "who is at risk in the next month"])
def test_words_after_in_are_a_country_only_when_they_name_one(question: str) -> None:
    found = interpret(question)
    assert found.reading is not None and "--country" not in found.reading.text
