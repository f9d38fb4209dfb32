"""Where sweeps live: an SQLAlchemy URL for optuna's RDB storage (docs/design.md, 'Storage'), and where
their trials write (`DEFAULT_OUT_ROOT`).

- Default: `sqlite:///<project>/.lexdpr/sweeps.db`, the project being the current folder. Agents on one
  machine share it safely: the file is switched to WAL mode (readers never block the writer) and every
  connection waits up to a minute for a lock instead of failing.
- Several machines: `--storage postgresql://user@host/db` (or `LEXDPR_SWEEP_STORAGE`). `postgresql://`
  means psycopg 3, the driver we ship; credentials come from the URL, `PGPASSWORD` or `~/.pgpass` and are
  never printed (`display_url`) or written to any file (trial processes get the URL in their environment).

Heartbeats: an agent's storage records a heartbeat for its running trial; any agent fails trials whose
heartbeat is older than the grace period and calls back (the engine queues them for resumption).
"""

from __future__ import annotations

import os
import sqlite3
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lexdpr.errors import LexDprError

STORAGE_ENV = "LEXDPR_SWEEP_STORAGE"
DEFAULT_DB = Path(".lexdpr") / "sweeps.db"
#: Trials write to DEFAULT_OUT_ROOT/<sweep_id>/trial-<n>/ (`lex-dpr sweep agent --out-root`); the run tools
#: (`lexdpr.runs`) look there for sweep trials.
DEFAULT_OUT_ROOT = Path("checkpoint/sweeps")
SQLITE_LOCK_TIMEOUT_S = 60


class StorageUnavailable(LexDprError):
    """The sweep storage cannot be opened or reached."""


@dataclass(frozen=True)
class Heartbeat:
    """How often a running trial's agent proves it is alive, and how long silence means it is gone."""

    interval_s: int = 30
    grace_s: int = 120


def resolve_url(explicit: str | None, project: Path | None = None) -> str:
    """`--storage`, else `$LEXDPR_SWEEP_STORAGE`, else the project's SQLite file; drivers made explicit."""
    url = explicit or os.environ.get(STORAGE_ENV) or ""
    if not url:
        db = (project or Path.cwd()) / DEFAULT_DB
        return f"sqlite:///{db.resolve()}"
    if "://" not in url:  # a bare path to an SQLite file
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def display_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even parseable: show only the scheme
        return url.split("://", 1)[0] + "://…"


def open_storage(
    url: str,
    heartbeat: Heartbeat | None = None,
    on_stale_trial: Callable[[Any, Any], None] | None = None,
) -> Any:
    """An optuna RDBStorage for `url` (created on first use); a StorageUnavailable if it cannot be reached."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        _prepare_sqlite(url)
        engine_kwargs["connect_args"] = {"timeout": SQLITE_LOCK_TIMEOUT_S}
    else:
        engine_kwargs["pool_pre_ping"] = True
    kwargs: dict[str, Any] = {}
    if heartbeat is not None:
        kwargs = {
            "heartbeat_interval": heartbeat.interval_s,
            "grace_period": heartbeat.grace_s,
            "heartbeat_stale_trial_callback": on_stale_trial,
        }
    last_error: Exception | None = None
    for _ in range(3):  # agents starting together may race to create the tables: retry
        try:
            with warnings.catch_warnings():
                warnings.simplefilter(
                    "ignore", optuna.exceptions.ExperimentalWarning
                )  # heartbeats: stable for years
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        except (SQLAlchemyError, OSError, ImportError) as exc:
            last_error = exc
    reason = str(getattr(last_error, "orig", None) or last_error).strip().splitlines()[0]
    raise StorageUnavailable(f"cannot open the sweep storage {display_url(url)}: {reason}")


def sqlite_file(url: str) -> Path | None:
    """The database file of an `sqlite://` URL (None for other URLs and in-memory databases)."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def _prepare_sqlite(url: str) -> None:
    """Create the folder and switch the file to WAL once (the mode is stored in the file itself)."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sqlite3.connect(path, timeout=SQLITE_LOCK_TIMEOUT_S) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"cannot open the sweep storage {path}: {exc}") from None
