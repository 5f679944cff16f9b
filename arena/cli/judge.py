"""``arena judge``: work in progress (see the README)."""

COMMANDS: list = []
