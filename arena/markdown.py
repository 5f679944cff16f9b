"""Model output as safe HTML: Markdown rendered, code highlighted, then an allow-list sanitizer.

Raw HTML in the Markdown is escaped (markdown-it's ``html`` off); fenced code
blocks are highlighted by Pygments into ``<span class="...">`` elements whose
classes are Pygments' short token names; and the result passes through nh3,
which keeps only those classes (on ``span``), the ``highlight`` class (on
``pre``) and nothing else. So a model's answer can never inject a script, a
style or a class of its choosing.

It is core, not part of the web app, because the generation worker renders each finished
live answer once, where its text is (:mod:`workers.generate`), and the web app relays that
HTML; the web app renders what it reads from the database (pages, a battle reloaded). The
colours of the token classes are one stylesheet (:func:`stylesheet`), served by the web app
(:mod:`arena.web.render`), so the Content-Security-Policy (``style-src 'self'``) holds.
"""

from __future__ import annotations

import functools

import nh3
import pygments
from markdown_it import MarkdownIt
from markupsafe import Markup
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

STYLE = "default"  # Pygments' style for the highlight stylesheet
HIGHLIGHT_CLASS = "highlight"
MAX_HIGHLIGHT_CHARS = 100_000  # a longer code block is shown plain (Pygments is linear, but slow)

_formatter = HtmlFormatter(cssclass=HIGHLIGHT_CLASS, style=STYLE, nowrap=True)
_TOKEN_CLASSES = frozenset(c for c in STANDARD_TYPES.values() if c)
_ALLOWED_CLASSES = {"span": set(_TOKEN_CLASSES), "pre": {HIGHLIGHT_CLASS}}


def highlight(code: str, lang: str, attrs: str = "") -> str:
    """A fenced code block as highlighted HTML, or ``""`` (markdown-it then escapes it).

    Only blocks that name a language Pygments knows are highlighted; a block
    without one is shown as plain, escaped text (guessing a lexer is slow and
    often wrong).
    """
    name = (lang or "").strip().split()[0] if (lang or "").strip() else ""
    if not name or len(code) > MAX_HIGHLIGHT_CHARS:
        return ""
    try:
        lexer = get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return ""
    body = pygments.highlight(code, lexer, _formatter)
    return f'<pre class="{HIGHLIGHT_CLASS}"><code>{body}</code></pre>'


_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": highlight}).enable(
    "table"
)


def markdown(text: str) -> Markup:
    """``text`` (Markdown) as sanitized HTML, fenced code highlighted."""
    html = _md.render(text or "")
    return Markup(
        nh3.clean(
            html,
            link_rel="noopener noreferrer nofollow",
            allowed_classes=_ALLOWED_CLASSES,
        )
    )


@functools.lru_cache(maxsize=1)
def stylesheet() -> str:
    """Pygments' rules for the token classes, scoped to ``.highlight``."""
    scope = f".{HIGHLIGHT_CLASS}"
    rules = _formatter.get_background_style_defs(scope) + _formatter.get_token_style_defs(scope)
    return "\n".join(rules) + "\n"
