"""The prediction builder's documented limits, kept apart so the command line can show them
without loading scikit-learn."""

MAX_LEVELS = 1000
"""Text columns with more distinct values than this (or with a distinct value for more than half
of the rows) are ids or free text, not categories."""
ONE_HOT_LEVELS = 30
"""Categories with more levels than this are target-encoded (a one-hot column per level, or a
native split over them, would learn the noise of small levels)."""
MIN_SIGNAL_SHARE = 0.01
"""Features under 1% of the total mutual information are the ones feature selection may leave out."""
LEAKAGE_AUC = 0.99
"""A feature that alone ranks the labels this well is the target in disguise (recorded after the
outcome, or derived from it): it is left out and named."""
DEFAULT_BUDGET_SECONDS = 15.0
"""Tuning time by default.  On 2 cores it tries about 20 settings on Telco (7,043 customers x 20
columns), and 6,000 customers x 85 columns train, score and explain in about 21 s (target: 30)."""
MIN_BUDGET_SECONDS = 1.0
