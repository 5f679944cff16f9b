"""Regenerate (or check) the example output shown in docs/*.md.

Usage::

    .venv/bin/python scripts/doc_examples.py          # rewrite every example block in place
    .venv/bin/python scripts/doc_examples.py --check  # exit 1 naming each stale block

An example block in a page is a console fence between two markers::

    <!-- example: arena rate --input data.json | head -5 -->
    ```console
    $ arena rate --input data.json | head -5
    ...the output, written by this script...
    ```
    <!-- /example -->

A page may first say ``<!-- example-setup: COMMAND -->`` (any number): these
run, in order, in the page's own fresh instance folder (``ARENA_INSTANCE``,
a SQLite database and an embedded Redis there) before its examples, so an
example that reads the database sees what the setup put there. Commands run
with bash in the repository's root, with ``.venv/bin`` first on ``PATH`` and
no other ``ARENA_*`` variable; the shared data is at ``../shared/data``.
tests/test_doc_examples.py runs ``--check``, so an output that changes with
the code fails the tests until this script is run again.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BLOCK = re.compile(
    r"<!-- example: (?P<cmd>.+?) -->\n```console\n(?P<body>.*?)```\n<!-- /example -->",
    re.DOTALL,
)
SETUP = re.compile(r"<!-- example-setup: (?P<cmd>.+?) -->")


def _env(instance: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env["ARENA_INSTANCE"] = instance
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "100"
    return env


def _run(cmd: str, env: dict[str, str]) -> str:
    res = subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # `| head` closes the pipe early: its SIGPIPE (141) is not a failure of the example.
    if res.returncode not in (0, 141):
        raise SystemExit(f"example failed ({res.returncode}): {cmd}\n{res.stderr[-2000:]}")
    return res.stdout


def render_page(text: str) -> str:
    """The page with every example block's output produced anew."""
    if not BLOCK.search(text):
        return text
    with tempfile.TemporaryDirectory(prefix="arena-doc-") as instance:
        env = _env(instance)
        for setup in SETUP.finditer(text):
            _run(setup["cmd"], env)

        def block(match: re.Match) -> str:
            cmd = match["cmd"]
            out = _run(cmd, env)
            if out and not out.endswith("\n"):
                out += "\n"
            return f"<!-- example: {cmd} -->\n```console\n$ {cmd}\n{out}```\n<!-- /example -->"

        return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale blocks; change nothing")
    parser.add_argument("pages", nargs="*", type=Path, help="pages (default: every docs/*.md)")
    args = parser.parse_args(argv)
    stale = []
    for page in args.pages or sorted(DOCS.rglob("*.md")):
        old = page.read_text()
        new = render_page(old)
        if new != old:
            stale.append(page)
            if not args.check:
                page.write_text(new)
    for page in stale:
        verb = "is stale (run scripts/doc_examples.py)" if args.check else "rewritten"
        print(f"{page.relative_to(ROOT)}: example output {verb}")
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
