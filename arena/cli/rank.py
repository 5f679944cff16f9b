"""``arena rank``: work in progress (see the README)."""

COMMANDS: list = []
