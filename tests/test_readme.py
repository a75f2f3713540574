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


def _table(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after ``heading``, as cells (header and rule dropped)."""
    after = README.split(heading, 1)[1]
    table: list[list[str]] = []
    for line in after[after.index("\n|"):].lstrip("\n").splitlines():
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return table[2:]


def test_what_works_today_names_only_finished_work_and_its_proof() -> None:
    root = Path(__file__).resolve().parent.parent
    rows = _table("## What works today")
    assert len(rows) >= 8
    for area, status, proof in rows:
        assert status == "done", f"{area}: status {status!r}; unfinished work belongs in 'Not there yet'"
        paths = [p.strip("`") for p in proof.split(", ")]
        assert paths and all((root / p).exists() for p in paths), f"{area}: proven by {proof}, which is missing"


def _cli_commands() -> set[str]:
    import typer.main

    from assistant.cli.app import app

    group = typer.main.get_command(app)
    names = set()
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        names.add(f"crm-bot {name}")
        for sub in getattr(command, "commands", {}):
            names.add(f"crm-bot {name} {sub}")
        for option in getattr(command, "params", []):
            names.update(f"crm-bot {name} {flag}" for flag in option.opts)
    return names


def test_not_there_yet_lists_only_what_does_not_exist() -> None:
    from assistant.commands.registry import COMMANDS

    existing = set(COMMANDS) | _cli_commands()
    rows = _table("Not there yet")
    assert rows
    for what, command in rows:
        assert command.strip("`") not in existing, f"{what}: {command} exists now; move it to 'What works today'"
