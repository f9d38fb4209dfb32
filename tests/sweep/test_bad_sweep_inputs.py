"""Malformed sweep files and storage flags end in one clear error naming the file, never a traceback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from lexdpr.errors import ConfigError
from lexdpr.sweep import commands
from lexdpr.sweep.engine import SweepNotFound
from lexdpr.sweep.sweep_file import load_sweep_file
from tests.sweep.conftest import BASIC_SWEEP


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe",
            r"not a YAML text file \(not UTF-8: invalid byte at offset 0\)",
        ),
        (bytes(range(256)) * 4, r"not a YAML text file \(not UTF-8: invalid byte at offset 128\)"),
        (b"parameters: " + b"[" * 5000 + b"]" * 5000, r"not valid YAML \(nested too deeply to read\)"),
        (
            b"parameters: " + b"{a: " * 5000 + b"1" + b"}" * 5000,
            r"not valid YAML \(nested too deeply to read\)",
        ),
        (b"- method: random\n- metric: x\n", r"expected a mapping .* at the top level, got a list"),
        (b"[]\n", r"expected a mapping .* at the top level, got a list"),
        (b"42\n", r"expected a mapping .* at the top level, got a int"),
        (b"", r"the sweep file is empty"),
        (
            b"method: random\nmethod: grid\n",
            r'not valid YAML \(found duplicate key "method" .* at line 2, column 1',
        ),
    ],
)
def test_malformed_sweep_files_are_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"sweep\.yaml: " + message) as info:
        load_sweep_file(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_create_and_agent_refuse_them_without_creating_anything(project: Path) -> None:
    path = project / "sweep.yaml"
    path.write_bytes(b"parameters: " + b"[" * 5000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        commands.create(path, run_agent=False, console=quiet())
    with pytest.raises(ConfigError, match="nested too deeply"):
        commands.agent(config_path=path, console=quiet())
    assert not (project / ".lexdpr").exists()


@pytest.mark.parametrize("command", ["status", "best", "agent"])
def test_a_storage_that_does_not_exist_is_not_created(project: Path, command: str) -> None:
    """`sweep status x --storage notaurl` used to create an SQLite database named `notaurl`."""
    call = getattr(commands, command)
    with pytest.raises(
        SweepNotFound, match=r"no sweep 'x' in sqlite:///.*/notaurl \(no such file; nothing was"
    ):
        call("x", storage="notaurl", console=quiet())
    assert sorted(p.name for p in project.iterdir()) == []


def test_an_existing_storage_still_works(project: Path) -> None:
    path = project / "sweep.yaml"
    path.write_text(BASIC_SWEEP, encoding="utf-8")
    sweep_id = commands.create(path, storage="my.db", run_agent=False, console=quiet())
    assert (project / "my.db").is_file()  # creating a sweep may make the file: that is what --storage names
    assert commands.status(sweep_id, storage="my.db", console=quiet()) == []
