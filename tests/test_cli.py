"""The `lex-dpr` command tree: every verb is wired and reaches its module (help pages render, errors are clean)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lexdpr.cli import app

runner = CliRunner()

VERBS = [
    ["data", "passages"],
    ["data", "pairs"],
    ["data", "corpus"],
    ["eval"],
    ["train"],
    ["export"],
    ["encode"],
    ["sweep"],
    ["sweep", "preset"],
    ["sweep", "agent"],
    ["sweep", "status"],
    ["sweep", "best"],
    ["sweep", "report"],
    ["runs", "list"],
    ["runs", "show"],
    ["runs", "plot"],
    ["runs", "check"],
    ["runs", "compare"],
    ["pipeline", "run"],
    ["pipeline", "compile"],
    ["pipeline", "submit"],
    ["pipeline", "stages"],
]


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_has_a_help_page(verb: list[str]) -> None:
    result = runner.invoke(app, [*verb, "--help"])
    assert result.exit_code == 0, result.output
    assert "usage" in result.output.lower()


def test_unknown_backend_is_a_clear_error() -> None:
    result = runner.invoke(app, ["sweep", "status", "x", "--backend", "slurm"])
    assert result.exit_code != 0
    assert "--backend must be local or katib" in str(result.exception or result.output)


def test_sweep_out_root_default_matches_the_agent() -> None:
    from lexdpr.cli import _DEFAULT_OUT_ROOT
    from lexdpr.sweep.agent import DEFAULT_OUT_ROOT

    assert _DEFAULT_OUT_ROOT == DEFAULT_OUT_ROOT
