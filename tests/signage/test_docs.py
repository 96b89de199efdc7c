"""The README documents every setting and every command; it opens with the two commands."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # tests/signage/ → the project
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented():
    source = (ROOT / "signage/settings.py").read_text()
    settings = set(re.findall(r'"(SIGNAGE_[A-Z_]+)"', source))
    assert len(settings) >= 8
    missing = [s for s in sorted(settings) if f"`{s}`" not in README]
    assert not missing, f"document in README.md: {missing}"


def test_readme_opens_with_the_two_commands():
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", README, re.S)
    assert blocks[0].strip().splitlines() == ["scripts/demo", "scripts/test"] or (
        "scripts/demo" in blocks[0] and "scripts/test" in blocks[0]
    )
    assert README.index("scripts/demo") < 600


def test_every_cli_command_is_documented():
    from click.testing import CliRunner

    from signage.cli import main

    for group, commands in {"": ["serve", "demo"], "db": ["upgrade"], "user": ["create"], "token": ["create"]}.items():
        for command in commands:
            words = f"signage {group} {command}".replace("  ", " ")
            assert words in README, f"document `{words}` in README.md"
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0
