"""Replay job traces through warmpool's own decision code to compare keep-alive strategies."""
