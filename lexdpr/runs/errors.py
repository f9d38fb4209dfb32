"""User errors of the run tools; the CLI prints the message and exits without a traceback."""

from __future__ import annotations

from lexdpr.errors import LexDprError


class RunNotFound(LexDprError):
    """A run name, id or path that matches no run folder (or more than one)."""


class FingerprintMismatch(LexDprError):
    """Runs (or a baseline) evaluated on different test sets: their numbers must not be ranked together."""
