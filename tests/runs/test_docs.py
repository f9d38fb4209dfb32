"""docs/runs.md stays in step with the code: every rule and every threshold with its default."""

from __future__ import annotations

from pathlib import Path

from lexdpr.runs.verdict import RULES, Thresholds

DOC = Path(__file__).resolve().parents[2] / "docs" / "runs.md"


def test_every_rule_and_threshold_is_documented_with_its_default() -> None:
    text = DOC.read_text(encoding="utf-8")
    for rule in RULES:
        assert f"| `{rule.__name__}` |" in text, rule.__name__
    for key, (default, _) in Thresholds.help().items():
        assert f"| `{key}` | `{default}` |" in text, key
