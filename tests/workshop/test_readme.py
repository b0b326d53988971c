"""The README's quick start parses into the commands the newcomer test runs (fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .readme import commands, quick_start, section, the_test_command

PROJECT = Path(__file__).resolve().parents[2]


def test_the_quick_start_installs_the_lab_and_runs_it():
    steps = quick_start(PROJECT / "README.md")
    installs = [s for s in steps if "pip" in s and "install" in s]
    assert len(installs) == 1, f"one install command, found {steps}"
    assert any(arg.startswith(".[") and "lab" in arg for arg in installs[0]), installs[0]
    assert ["soa-lab", "run"] in steps
    assert steps.index(installs[0]) < steps.index(["soa-lab", "run"])


def test_comments_quotes_and_sections_are_read_as_a_shell_would():
    markdown = (
        "# Title\n## Quick start\n\ntext\n\n```bash\n"
        'pip install -e ".[lab]"   # everything\n\n# a comment line\nsoa-lab run\n```\n'
        "### Inside\nmore\n## Next\n```bash\nnot this\n```\n"
    )
    body = section(markdown, "## Quick start")
    assert "### Inside" in body
    assert "## Next" not in body
    assert commands('pip install -e ".[lab]"   # everything\n\n# x\nsoa-lab run\n') == [
        ["pip", "install", "-e", ".[lab]"],
        ["soa-lab", "run"],
    ]
    with pytest.raises(LookupError):
        section(markdown, "## Missing")


def test_the_test_command_is_pytest_and_ci_takes_both_from_the_readme():
    assert the_test_command(PROJECT / "README.md") == [["python", "-m", "pytest"]]
    ci = (PROJECT / ".ci" / "run").read_text()
    quick, extra = ci.index("readme quick-start"), ci.index("install-browser.sh")
    assert quick < extra < ci.index("readme tests"), (
        "CI must run the README's quick start before any extra install, then its tests"
    )
