"""``arena rate``: work in progress (see the README)."""

COMMANDS: list = []
