"""``arena import benchmarks|popularity|aliases``: composite-rank inputs (work in progress)."""

COMMANDS: list = []
