"""User-facing errors.

Anything the user can fix (a bad file, a missing key, a wrong flag) raises a `LexDprError`; the CLI
prints its message and exits non-zero without a traceback. Programming errors stay ordinary
exceptions so that they do show a traceback.
"""

from __future__ import annotations


class LexDprError(Exception):
    """An error the user can act on; its message is complete on its own."""

    exit_code = 2


class InputError(LexDprError):
    """Bad input data, located as precisely as we can: file, record and field."""

    def __init__(self, file: str, reason: str, record: str | None = None, field: str | None = None):
        self.file = file
        self.record = record
        self.field = field
        self.reason = reason
        where = file
        if record:
            where += f", record {record}"
        if field:
            where += f", field {field!r}"
        super().__init__(f"{where}: {reason}")


class StorageError(LexDprError):
    """A path or object-store location that cannot be read or written."""


class ConfigError(LexDprError):
    """A configuration key or value that is not valid."""
