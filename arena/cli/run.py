"""``arena serve``, ``arena worker`` and ``arena demo``."""

COMMANDS: list = []
