"""The README stays true: its first commands, and a configuration table listing every setting."""

from __future__ import annotations

from pathlib import Path

from assistant.ops.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
CI_RUN = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")


def _commands() -> list[str]:
    block = README.split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_starts_with_the_demo_and_the_test_command() -> None:
    demo, tests = _commands()[:2]
    assert demo.endswith("crm-bot demo")
    assert tests.endswith("pytest")


def test_ci_runs_the_readme_test_command() -> None:
    assert _commands()[1] in CI_RUN


def test_every_setting_is_documented_with_its_default() -> None:
    for name, field in Settings.model_fields.items():
        default = field.default if not hasattr(field.default, "as_posix") else field.default.as_posix()
        row = f"| `{field.alias}` | `{default}` | {field.description} |"
        assert row in README, f"README configuration table lacks {name}: {row}"


def test_slack_commands_table_is_the_registry() -> None:
    from assistant.commands.registry import COMMANDS

    for spec in COMMANDS.values():
        usage = spec.usage.replace("|", "\\|")  # a bare | would split the Markdown table cell
        assert f"| `{usage}` | {spec.summary} |" in README, spec.name
