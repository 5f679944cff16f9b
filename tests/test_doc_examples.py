"""The example output shown in docs/ is what the code prints now (scripts/doc_examples.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, shared_data


@pytest.mark.slow
def test_doc_examples_are_current():
    shared_data("llmfao")  # the examples read the shared data
    shared_data("chatbot-arena-20240814")
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "doc_examples.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
