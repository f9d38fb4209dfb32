"""A throwaway PostgreSQL server for the test suite: `initdb` into a temporary folder, `pg_ctl start` on
127.0.0.1 and a free port, a database for the sweeps, `pg_ctl stop` at the end.

The binaries come from Debian's `postgresql` package (`scripts/install-postgres.sh`); they are looked up on
PATH and in /usr/lib/postgresql/*/bin. PostgreSQL refuses to run as root, so as root the server runs as
the `postgres` user (the package creates it) and its folder is handed to that user. Authentication is
`trust` on 127.0.0.1 only, and the socket lives in the temporary folder: nothing outside it is touched. A small
watchdog process stops the server too if the Python process that started it dies without stopping it.

    with PostgresServer() as pg:
        url = pg.url  # postgresql://lexdpr@127.0.0.1:<port>/sweeps
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
INSTALL_HINT = "run `bash scripts/install-postgres.sh` as root to enable the PostgreSQL tests"
_USER = "lexdpr"
_DATABASE = "sweeps"


class PostgresError(RuntimeError):
    pass


def find_binaries() -> dict[str, str] | None:
    """{name: path} of initdb, pg_ctl and postgres from one installation, or None."""
    found = {name: shutil.which(name) for name in REQUIRED_BINARIES}
    if all(found.values()):
        return found  # type: ignore[return-value]
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        paths = {name: os.path.join(folder, name) for name in REQUIRED_BINARIES}
        if all(os.access(p, os.X_OK) for p in paths.values()):
            return paths
    return None


def unavailable_reason() -> str | None:
    """Why a server cannot be started here, or None."""
    if find_binaries() is None:
        return f"PostgreSQL binaries not found ({', '.join(REQUIRED_BINARIES)}): {INSTALL_HINT}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the server as"
    return None


class PostgresServer:
    def __init__(self) -> None:
        self.binaries = find_binaries()
        self.root: Path | None = None
        self.port = 0
        self._user: str | None = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://{_USER}@127.0.0.1:{self.port}/{_DATABASE}"

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.binaries is None:
            raise PostgresError(INSTALL_HINT)
        self.root = Path(tempfile.mkdtemp(prefix="lexdpr-pg-"))
        data, log = self.root / "data", self.root / "postgres.log"
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            [
                self.binaries["initdb"],
                "-D",
                str(data),
                "-U",
                _USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
                "--no-sync",
            ]
        )
        for _ in range(3):
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
            )
            try:
                self._run(
                    [
                        self.binaries["pg_ctl"],
                        "-D",
                        str(data),
                        "-l",
                        str(log),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ]
                )
                break
            except PostgresError:
                if "Address already in use" not in _read(log):
                    raise
        else:
            raise PostgresError(f"no free port for PostgreSQL:\n{_read(log)}")
        self._start_watchdog()
        self._create_database()

    def _start_watchdog(self) -> None:
        """Stop the server and remove its folder once this process is gone (even after kill -9)."""
        assert self.root is not None and self.binaries is not None
        code = (
            "import os, shutil, subprocess, sys, time\n"
            "parent, pg_ctl, data, root, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]\n"
            "while os.getppid() == parent and os.path.isdir(data):\n"
            "    time.sleep(1)\n"
            "if os.path.isdir(data):\n"
            "    subprocess.run([pg_ctl, '-D', data, '-m', 'immediate', '-w', 'stop'], user=user or None,\n"
            "                   capture_output=True)\n"
            "    shutil.rmtree(root, ignore_errors=True)\n"
        )
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                str(os.getpid()),
                self.binaries["pg_ctl"],
                str(self.root / "data"),
                str(self.root),
                self._user or "",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.root is None:
            return
        with contextlib.suppress(PostgresError):
            self._run(
                [self.binaries["pg_ctl"], "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"]
            )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def _create_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1", port=self.port, user=_USER, dbname="postgres", autocommit=True
                ) as connection:
                    connection.execute(f"CREATE DATABASE {_DATABASE}")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(
            command, capture_output=True, text=True, user=self._user, cwd=self.root, timeout=120, check=False
        )
        if result.returncode != 0:
            raise PostgresError(
                f"{' '.join(command[:2])} … failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
