"""Fixtures of the sweep tests: a project folder, the fake trial runner, sweep files, a real PostgreSQL."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lexdpr.sweep.runner import SubprocessTrialRunner
from lexdpr.sweep.storage import Heartbeat
from tests.sweep.postgres_server import PostgresError, PostgresServer, unavailable_reason

REPO = Path(__file__).resolve().parents[2]
#: The trial module the fake runner starts: `run_trial` with the fake trainer.
FAKE_TRIAL = "tests.sweep.fake_trial"
#: Short enough that a vanished agent is noticed within seconds.
FAST_HEARTBEAT = Heartbeat(interval_s=1, grace_s=2)

BASIC_SWEEP = """\
method: random
metric: {name: eval/ndcg_at_10, goal: maximize}
parameters:
  trainer.lr: {distribution: log_uniform_values, min: 1.0e-7, max: 1.0e-3}
  trainer.temperature: {distribution: uniform, min: 0.01, max: 0.3}
fixed:
  model.bi_model: fake
  trainer.epochs: 2
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the current directory, with no storage from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEXDPR_SWEEP_STORAGE", raising=False)
    monkeypatch.delenv("FAKE_STEP_SECONDS", raising=False)
    # base models are checked before a sweep of the real trainer runs: no hub requests, no personal cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LEXDPR_MODEL_CACHE", str(tmp_path / ".model-cache"))
    return tmp_path


@pytest.fixture
def fake_runner() -> SubprocessTrialRunner:
    """The real subprocess runner, with the fake trainer in the child."""
    return SubprocessTrialRunner(FAKE_TRIAL, env={"PYTHONPATH": str(REPO)})


@pytest.fixture
def write_sweep(project: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "sweep.yaml") -> Path:
        path = project / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def agent_command(
    sweep_id: str,
    storage: str,
    out_root: Path,
    count: int,
    trial_module: str = FAKE_TRIAL,
    heartbeat: Heartbeat = FAST_HEARTBEAT,
) -> list[str]:
    """An agent in its own process (as `lex-dpr sweep agent` would run)."""
    return [
        sys.executable,
        "-m",
        "tests.sweep.agent_process",
        sweep_id,
        "--storage",
        storage,
        "--out-root",
        str(out_root),
        "--count",
        str(count),
        "--trial-module",
        trial_module,
        "--heartbeat",
        str(heartbeat.interval_s),
        str(heartbeat.grace_s),
    ]


def agent_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1 for the session (skips with a hint if not installed)."""
    reason = unavailable_reason()
    if reason:
        if os.environ.get("LEXDPR_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (LEXDPR_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(reason)
    server = PostgresServer()
    try:
        server.start()
    except PostgresError as exc:
        pytest.fail(f"could not start the local PostgreSQL server:\n{exc}", pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, project: Path) -> str:
    """Each storage agents can share: the default SQLite file, and a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{project / '.lexdpr' / 'sweeps.db'}"
    return request.getfixturevalue("postgres_url")
