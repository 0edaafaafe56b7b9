"""The README stays in step with the code: settings table, commands, targets."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.settings_doc import END, START, table

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()


def test_the_settings_table_is_the_one_the_code_generates():
    section = README.split(START, 1)[1].split(END, 1)[0].strip()
    assert section == table(), "run `make settings-doc` to refresh the README's settings table"


def test_the_readme_names_the_two_commands_and_they_exist_in_the_makefile():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_every_make_target_the_readme_mentions_exists():
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`make ([a-z-]+)`", README)):
        assert re.search(rf"^{target}:", makefile, re.M), f"README mentions make {target}, Makefile lacks it"


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
