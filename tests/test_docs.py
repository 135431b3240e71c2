"""The documentation stays true to the code: generated reference pages match the schema and the registry, the
README stays a short front door whose first commands are what CI runs, and every link and command it names exists.
No training here: these checks read files and build the argument parser only."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from keras_tl import docs_reference

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
MAX_README_LINES = 200
INSTALL_AND_QUICKSTART = "pip install -e . && keras-tl quickstart"
TEST_COMMAND = 'pip install -e ".[dev]" && python -m pytest'

# [text](target) and [text]: target; images too. Targets with a scheme or only an anchor are not files.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|^\[[^\]]+\]:\s*(\S+)", re.MULTILINE)


def markdown_pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def without_code(text: str) -> str:
    """Links inside code blocks and inline code are examples, not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


@pytest.mark.parametrize("page", [docs_reference.CONFIG_PAGE, docs_reference.BACKBONES_PAGE])
def test_generated_pages_match_the_code(page):
    committed = (DOCS / page).read_text(encoding="utf-8")
    assert committed == docs_reference.rendered_pages()[page], (
        f"docs/{page} is out of date: run `{docs_reference.COMMAND}` and commit the result")


def test_config_reference_lists_every_key():
    from keras_tl.config import config_to_dict
    from keras_tl.config.schema import ExperimentConfig

    def leaves(tree, prefix=""):
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from leaves(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}"

    page = (DOCS / docs_reference.CONFIG_PAGE).read_text(encoding="utf-8")
    missing = [key for key in leaves(config_to_dict(ExperimentConfig())) if f"| `{key}` |" not in page]
    assert not missing, missing


def test_backbone_list_names_every_registered_base():
    from keras_tl.models.registry import list_backbones

    page = (DOCS / docs_reference.BACKBONES_PAGE).read_text(encoding="utf-8")
    assert [name for name in list_backbones() if f"| `{name}` |" not in page] == []


def test_readme_is_a_short_front_door():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move reference material to docs/"


def first_bash_block(text: str) -> list[str]:
    match = re.search(r"^```bash\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert match, "README.md has no bash block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_readme_starts_with_install_quickstart_and_the_ci_test_command():
    text = README.read_text(encoding="utf-8")
    before = text[: text.index("```bash")]
    assert before.startswith("# ") and len(before.split("\n\n")) <= 3, "only a title and a short description first"
    block = first_bash_block(text)
    commands = [line.split("#", 1)[0].strip() for line in block]
    assert commands == [INSTALL_AND_QUICKSTART, TEST_COMMAND], block
    assert all("#" in line for line in block), "each command says what it does"


def ci_commands() -> list[list[str]]:
    lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [shlex.split(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_ci_runs_the_readme_test_command():
    commands = ci_commands()
    # CI installs what the README's second line installs, then runs its test command with nothing added.
    installs = [c for c in commands if c[:4] == ["python", "-m", "pip", "install"]]
    assert installs and "-e" in installs[0] and ".[dev]" in installs[0], commands
    assert ["python", "-m", "pytest"] in commands, commands


def test_relative_links_point_to_existing_files():
    broken = []
    for page in markdown_pages():
        for match in LINK.finditer(without_code(page.read_text(encoding="utf-8"))):
            target = (match.group(1) or match.group(2)).split("#", 1)[0]
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # an anchor on the same page, or https:, mailto:
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, broken


def subcommands(parser: argparse.ArgumentParser, prefix: tuple = ()) -> set[tuple]:
    found = set()
    for action in parser._actions:  # argparse offers no public way to list subparsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.add(prefix + (name,))
                found |= subcommands(sub, prefix + (name,))
    return found


def test_every_keras_tl_command_in_the_readme_exists():
    from keras_tl.cli.main import build_parser

    known = subcommands(build_parser())
    text = README.read_text(encoding="utf-8")
    named = re.findall(r"keras-tl(?: --debug)?\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?", text)
    assert named, "README.md names no keras-tl command"
    unknown = set()
    for first, second in named:
        if first.isupper() or (first,) not in known:
            unknown.add(first)
        elif any(len(k) == 2 and k[0] == first for k in known) and second and (first, second) not in known:
            unknown.add(f"{first} {second}")
    assert not unknown, f"README.md names keras-tl commands that do not exist: {sorted(unknown)}"
