"""`make bench`: keep-alive strategies against the clairvoyant optimum, and the handler's import cost."""
