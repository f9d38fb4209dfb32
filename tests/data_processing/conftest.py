"""Shared fixtures for the data-stage tests: the bundled sample data and the real law.go.kr data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "lexdpr" / "sample_data"
LAWGO = REPO.parent / "shared" / "data" / "lawgo"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def lawgo_dir() -> Path:
    if not (LAWGO / "laws").is_dir():
        pytest.skip(f"real law.go.kr data not found at {LAWGO} (it lives in ../shared/data/lawgo)")
    return LAWGO
