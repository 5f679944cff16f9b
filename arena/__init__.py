"""Arena: an open pairwise arena and rating engine for language models."""

__version__ = "0.1.0"
