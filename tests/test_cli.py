"""The `lex-dpr` command tree: every verb is wired and reaches its module (help pages render, errors are clean)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from lexdpr.cli import app

runner = CliRunner()


def _verbs(command: object, path: list[str]) -> list[list[str]]:
    """Every leaf command under `command`, read from the click tree typer builds (so no verb is forgotten)."""
    commands = getattr(command, "commands", None)
    if commands is None:
        return [path]
    return [[*path]] * bool(path) + [v for name, sub in commands.items() for v in _verbs(sub, [*path, name])]


VERBS = _verbs(typer.main.get_command(app), [])
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_has_a_help_page(verb: list[str]) -> None:
    result = runner.invoke(app, [*verb, "--help"])
    assert result.exit_code == 0, result.output
    assert "usage" in result.output.lower()


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_readme_shows_every_verb(verb: list[str]) -> None:
    assert f"lex-dpr {' '.join(verb)}" in README.read_text(encoding="utf-8")


def test_unknown_backend_is_a_clear_error() -> None:
    result = runner.invoke(app, ["sweep", "status", "x", "--backend", "slurm"])
    assert result.exit_code != 0
    assert "--backend must be local or katib" in str(result.exception or result.output)


def _help(*verb: str) -> str:
    result = runner.invoke(app, [*verb, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def test_train_help_lists_every_dotted_key_with_its_default() -> None:
    from lexdpr.training.config import all_dotted_keys

    output = _help("train")
    for key in all_dotted_keys():
        assert f"  {key}=" in output, key
    assert "trainer.lr=0.0003" in output and "model.bi_model=multilingual-e5-small" in output
    assert "DESIGN" not in output


@pytest.mark.parametrize(
    "verb", [["sweep"], ["sweep", "agent"], ["sweep", "preset"], ["runs", "list"]], ids=" ".join
)
def test_help_at_80_columns_cuts_no_option_name(verb: list[str]) -> None:
    import typer.main

    output = _help(*verb)
    assert "…" not in output  # rich's boxed help truncated names and defaults to fit
    command = typer.main.get_command(app)
    for name in verb:
        command = command.commands[name]  # type: ignore[attr-defined]
    for param in command.params:
        for option in param.opts:
            if option.startswith("-"):
                assert option in output, option


def test_data_stage_help_names_the_lex_dpr_command() -> None:
    for stage in ("passages", "pairs", "corpus"):
        output = _help("data", stage)
        assert f"usage: lex-dpr data {stage}" in output
        assert "python -m" not in output


def test_error_messages_keep_their_brackets(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    import sys

    from lexdpr import cli

    monkeypatch.setattr(sys, "argv", ["lex-dpr", "train", "trainer.k_values=x"])
    with pytest.raises(SystemExit):
        cli.main()
    assert "is not a valid list[int]" in capsys.readouterr().err  # not eaten as rich markup
