"""What every stage's command line shares: common flags, the console, and turning user errors into
one clear message and an exit code instead of a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from rich.console import Console

from lexdpr.errors import LexDprError
from lexdpr.reporting import StrictFailure


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true", help="fail (exit 1) if any input was skipped")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars or summary table (for pipelines)"
    )


def run_main(
    body: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> int:
    """Parse `argv`, run `body`; a `LexDprError` becomes a red message and its exit code."""
    args = parser.parse_args(argv)
    try:
        return body(args)
    except StrictFailure as exc:  # the skips first, so the user sees every reason, then the verdict
        exc.report.print(stderr_console(), quiet=getattr(args, "quiet", False))
        stderr_console().print(f"[red]error:[/red] {exc}")
        return exc.exit_code
    except LexDprError as exc:
        stderr_console().print(f"[red]error:[/red] {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        stderr_console().print("[red]interrupted[/red]")
        return 130
