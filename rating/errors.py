"""Errors of the rating engine."""


class RatingError(ValueError):
    """Input the engine will not rate (the message says why)."""
