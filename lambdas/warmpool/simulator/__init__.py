"""Replay job traces through warmpool's own decision code to compare keep-alive strategies."""

# `simulate --by`: each strategy's results per group of pools. Here, not in compare.py, so the CLI lists the
# choices without importing the replay.
BREAKDOWNS = ("team", "instance_type", "pool")
