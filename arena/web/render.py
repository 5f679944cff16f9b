"""Safe rendering of model output: Markdown to HTML, then an allow-list sanitizer.

Raw HTML in the Markdown is escaped (markdown-it's ``html`` off) and the
result passes through nh3, so a model's answer can never inject a script.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(text: str) -> Markup:
    return Markup(nh3.clean(_md.render(text or ""), link_rel="noopener noreferrer nofollow"))
