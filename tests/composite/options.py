"""Composite options for tests: the settings' defaults with overrides."""

from arena.config import Settings
from arena.rank_options import settings_options


def options(**overrides):
    """Options as ``arena rank`` builds them with no config file, then ``overrides``."""
    return settings_options(Settings(), **overrides)
