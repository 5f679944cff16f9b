"""Model output as HTML: Markdown rendered, code highlighted by Pygments, sanitized by nh3."""

from __future__ import annotations

from arena.markdown import markdown, stylesheet
from arena.web.render import CSS_PATH


def test_code_blocks_are_highlighted_with_token_classes():
    html = str(markdown('```python\ndef f(x):\n    return "<b>"\n```\n'))
    assert html.startswith('<pre class="highlight"><code>')
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">f</span>' in html
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_unknown_or_missing_language_is_plain_escaped_text():
    for fence in ("```\n", "```no-such-language\n"):
        html = str(markdown(fence + "<i>x</i>\n```\n"))
        assert "<span" not in html and "&lt;i&gt;x&lt;/i&gt;" in html


def test_model_html_and_classes_never_pass():
    text = (
        '<script>alert(1)</script>\n\n<span class="k">x</span>\n\n'
        '[a](javascript:alert(1)) ![i](x.png)\n\n<pre class="highlight">y</pre>'
    )
    html = str(markdown(text))
    assert "<script" not in html and "<span" not in html and "<pre" not in html
    assert "href" not in html  # markdown-it refuses the javascript: link; it stays text


def test_a_class_pygments_would_not_write_is_dropped():
    # nh3 keeps only Pygments' token classes on spans; markdown-it escapes raw HTML anyway,
    # so the allow-list is checked on what the highlighter wrote: every class is a token's.
    import re

    html = str(markdown("```js\nconst a = `x${1}`; // c\n```\n"))
    from pygments.token import STANDARD_TYPES

    for cls in re.findall(r'class="([^"]+)"', html):
        assert cls == "highlight" or cls in STANDARD_TYPES.values()


def test_stylesheet_is_served_scoped_and_cached(client):
    res = client.get(CSS_PATH)
    assert res.status_code == 200 and res.mimetype == "text/css"
    assert "immutable" in res.headers["Cache-Control"]
    body = res.get_data(as_text=True)
    assert body == stylesheet()
    rules = [line for line in body.splitlines() if line.strip()]
    assert rules and all(line.startswith(".highlight") for line in rules)
