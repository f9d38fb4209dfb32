"""Skipped-input bookkeeping and end-of-run summaries shared by every data stage.

A stage never drops input silently: each skipped file or record is recorded with the file, record and
field it concerns and why. The summary table at the end of a run shows counts and skips; with
`strict=True` any skip turns into a failing exit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from lexdpr.errors import LexDprError


@dataclass(frozen=True)
class Skip:
    """One piece of input that was not used, and why."""

    file: str
    reason: str
    record: str | None = None
    field: str | None = None

    def describe(self) -> str:
        where = self.file
        if self.record:
            where += f", record {self.record}"
        if self.field:
            where += f", field {self.field!r}"
        return f"{where}: {self.reason}"


@dataclass
class RunReport:
    """Counts and skips of one stage run; printed as a table at the end."""

    stage: str
    counts: Counter[str] = field(default_factory=Counter)
    skips: list[Skip] = field(default_factory=list)

    def skip(self, file: str, reason: str, record: str | None = None, field: str | None = None) -> None:
        self.skips.append(Skip(file=file, reason=reason, record=record, field=field))

    def print(self, console: Console, quiet: bool = False) -> None:
        """Print the skip list (always, to stderr-like console) and the counts table (unless quiet)."""
        for s in self.skips:
            console.print(f"[yellow]skipped[/yellow] {s.describe()}", highlight=False)
        if quiet:
            return
        table = Table(title=f"{self.stage}: summary")
        table.add_column("what")
        table.add_column("count", justify="right")
        for key in sorted(self.counts):
            table.add_row(key, str(self.counts[key]))
        table.add_row("[yellow]skipped[/yellow]", str(len(self.skips)))
        console.print(table)

    def enforce_strict(self, strict: bool) -> None:
        """With `strict`, any skip is a `StrictFailure`; stages call this before writing any output."""
        if strict and self.skips:
            raise StrictFailure(self)


class StrictFailure(LexDprError):
    """`--strict` and some input was skipped: the run fails (exit 1) and publishes nothing."""

    exit_code = 1

    def __init__(self, report: RunReport):
        self.report = report
        super().__init__(
            f"{report.stage}: {len(report.skips)} input(s) were skipped and --strict is set, so no output "
            f"was written; first: {report.skips[0].describe()}"
        )
