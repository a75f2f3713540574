"""The phrases that say what a question is for: a command's cues, and the cues of asking for numbers.

Matched on whole words after typo correction; their words are part of the vocabulary typos are
corrected against (``vocabulary.load``), so "recomend" reads as "recommend".
"""

from __future__ import annotations

import re

CUES: dict[str, tuple[str, ...]] = {
    "digest": ("digest", "how did we do", "how are we doing", "how we did", "how have we done", "what changed",
               "whats changed", "what has changed", "what happened", "recap", "summary", "summarise", "summarize",
               "how was the week", "how was this week", "how was last week", "how was yesterday", "how was today",
               "how were sales", "how did sales", "how are sales", "weekly report", "daily report", "weekly update",
               "daily update", "week in review", "overview of the week", "highlights", "how is business",
               "how's business", "hows business", "state of the business", "how was last week", "how did last week go",
               "how was business", "send me the digest", "weekly summary", "how are sales", "how was the day"),
    "health": ("model health", "trust the", "accurate", "accuracy", "how good are the", "calibration", "calibrated",
               "drift", "the model", "models", "predictions reliable", "reliable are", "validation", "how reliable",
               "any good", "trustworthy", "churn scores", "churn model", "model drift"),
    "rules": ("buy with", "bought with", "buys with", "buying with", "goes with", "go with", "goes well with",
              "also buy", "also bought", "together", "rules", "cross-sell", "cross sell", "crosssell",
              "basket rule", "pairs with", "pair with", "sells with", "sell with", "along with", "combined with",
              "frequently bought", "paired with", "complements", "alongside", "with the", "people who buy",
              "customers who buy", "who buys", "market basket", "bought together", "go together", "goes together",
              "in the basket with", "sells alongside"),
    "recommend": ("recommend", "offer", "sell to", "suggest", "next best", "pitch", "upsell", "up-sell", "up sell",
                  "ideas for", "should i sell", "what to sell", "products for", "cross-sell to", "propose",
                  "what can i sell", "what else could", "what else would", "could buy", "might buy", "any offers",
                  "offers for", "good next product", "next product", "recommendations", "suggestions"),
    "customer": ("tell me about", "who is", "card", "look up", "lookup", "profile", "details", "show me",
                 "info on", "information on", "account", "pull up", "open", "bring up", "find", "check",
                 "what about", "lookup", "background on", "customer"),
    "atrisk": ("at risk", "at-risk", "churn", "about to leave", "leaving", "slipping", "losing", "lapse", "lapsing",
               "risky", "might leave", "going quiet", "gone quiet", "in danger", "likely to leave", "drifting away",
               "stopped buying", "stop buying", "win back", "winback", "win-back", "attrition", "defect",
               "went quiet", "might lose", "about to leave", "slipping away", "likely to churn", "churning",
               "churn list", "churn risks", "churn risk list", "leave us"),
    "segments": ("segment", "segments", "who are our", "who are the", "rfm", "groups of customers", "customer groups",
                 "who is in the"),
    "help": ("help", "what can you do", "commands", "how do i", "usage", "what do you do", "how does this work",
             "what can i ask", "options", "menu", "hello", "hi", "hey", "good morning", "what can this bot do",
             "help me"),
}
METRIC_CUES = ("how many", "how much", "number of", "total", "count", "average", "mean", "per ", " by ",
               "each ", "grew", "growth", "grow", "increase", "decrease", "declined", "dropped", "rose", "fell",
               "compare", "compared", " vs", "versus", "against", "trend", "breakdown", "split", "what was",
               "what is the", "what's the", "whats the", "what were", "sum of", "top", "best", "biggest", "bottom",
               "worst", "largest", "highest", "lowest", "which country", "which countries", "which product",
               "which segment", "which market", "rank", "ranking", "leaderboard", "most", "least", "by country",
               "by segment", "by product", "by month", "by week")


def cue_words() -> set[str]:
    """Every word of every cue: never "corrected" into something else."""
    phrases = [c for cues in CUES.values() for c in cues] + list(METRIC_CUES)
    return {w for phrase in phrases for w in re.findall(r"[a-z]+", phrase) if len(w) > 1}


def _pattern(cue: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'-]){re.escape(cue.strip())}(?![\w'-])")


PATTERNS = {intent: [(_pattern(c), len(c)) for c in cues] for intent, cues in CUES.items()}
WEAK_CUES = frozenset({"with the"})
"""Cues that point at an intent only together with its entity ("with the" + a product)."""
STRONG_PATTERNS = {intent: [(p, n) for (p, n), c in zip(patterns, CUES[intent], strict=True) if c not in WEAK_CUES]
                   for intent, patterns in PATTERNS.items()}


def scores(text: str, strong_only: bool = False) -> dict[str, int]:
    """How strongly ``text`` points at each intent: the length of every cue it holds as whole words
    (``strong_only``: leaving out the ``WEAK_CUES``)."""
    return {intent: sum(length for pattern, length in patterns if pattern.search(text))
            for intent, patterns in (STRONG_PATTERNS if strong_only else PATTERNS).items()}


def asks_for_numbers(text: str) -> bool:
    """Whether ``text`` holds a cue of asking for numbers ("how many", "top", " by ", "vs")."""
    padded = f" {text} "
    return any(cue in padded if cue.startswith(" ") or cue.endswith(" ") else
               re.search(rf"(?<![\w-]){re.escape(cue)}(?![\w-])", padded) is not None for cue in METRIC_CUES)
