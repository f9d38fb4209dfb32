"""A reference score to beat, e.g. BM25 on the same test set (`lex-dpr eval --bm25 --out bm25.json`).

The file is the flat metrics JSON `lex-dpr eval --out` writes (`{"eval/ndcg_at_10": 0.41, …,
"eval/fingerprint": "…"}`); a nested `{"eval": {…}}` form is read too. A baseline only means something on
the test set it was computed on, so it carries its fingerprint and `require_same_test_set` refuses a run
evaluated on other pairs or another corpus.

The `--out` file of `lex-dpr eval --hybrid` (or the pipeline's `report/hybrid.json`) holds three retrievers:
`eval/*` is the dense model's, `bm25/*` BM25's, `hybrid/*` their fusion's. Its BM25 numbers are the
baseline (under `eval/*` names, so every rule and chart reads them as it reads a plain BM25 file), and the
other two are kept in `others` for `runs compare` to show side by side.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lexdpr.errors import InputError, StorageError
from lexdpr.runs.errors import FingerprintMismatch
from lexdpr.runs.history import FINGERPRINT
from lexdpr.runs.run import Run
from lexdpr.storage import read_text


@dataclass(frozen=True)
class Baseline:
    name: str
    metrics: Mapping[str, float]
    fingerprint: str | None
    source: str
    #: Other retrievers the same file scored on the same test set (column header -> `eval/*` metrics).
    others: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def load_baseline(uri: str, name: str = "BM25") -> Baseline:
    """Read a metrics JSON file (local or s3://) as a baseline."""
    try:
        data = json.loads(read_text(uri))
    except StorageError:
        raise
    except ValueError as exc:
        raise InputError(uri, f"not a metrics JSON file ({exc})") from None
    if not isinstance(data, Mapping):
        raise InputError(uri, "expected a JSON object of metrics, as `lex-dpr eval --out` writes")
    flat = dict(_flatten(data))
    metrics = {
        k: float(v)
        for k, v in flat.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }
    if not any(k.startswith("eval/") for k in metrics):
        raise InputError(uri, "no eval/* metrics in it (expected the output of `lex-dpr eval --out`)")
    fingerprint = flat.get(FINGERPRINT)
    others: dict[str, dict[str, float]] = {}
    if any(k.startswith("bm25/") for k in metrics):  # `lex-dpr eval --hybrid`: dense, BM25 and hybrid
        dense = _group(metrics, "eval")
        model = str(flat.get("fusion/dense/checkpoint") or flat.get("fusion/dense/model") or "")
        model = model.rstrip("/").rsplit("/", 1)[-1]
        others[f"dense ({model})" if model else "dense"] = dense
        label = flat.get("hybrid/fusion")
        others[f"hybrid ({label})" if isinstance(label, str) else "hybrid"] = _group(metrics, "hybrid")
        metrics = _group(metrics, "bm25")
    return Baseline(name, metrics, fingerprint if isinstance(fingerprint, str) else None, uri, others)


def _group(metrics: Mapping[str, float], group: str) -> dict[str, float]:
    """One retriever's metrics of a `--hybrid` file, under the `eval/*` names runs use."""
    return {f"eval/{k.split('/', 1)[1]}": v for k, v in metrics.items() if k.startswith(f"{group}/")}


def require_same_test_set(runs: Iterable[Run], baseline: Baseline) -> None:
    """Refuse a baseline whose fingerprint differs from a run's (or that has none)."""
    if baseline.fingerprint is None:
        raise FingerprintMismatch(
            f"{baseline.source} has no eval/fingerprint, so nothing says it was computed on the runs' test "
            "set; recompute it with `lex-dpr eval --bm25 --pairs … --corpus … --out …`"
        )
    for run in runs:
        fingerprint = run.history.fingerprint
        if fingerprint is not None and fingerprint != baseline.fingerprint:
            raise FingerprintMismatch(
                f"{baseline.name} baseline {baseline.source} was computed on another test set "
                f"(eval/fingerprint {baseline.fingerprint}) than run {run.run_id} ({fingerprint}); only the "
                "same eval pairs and corpus decide whether a model improved. Recompute the baseline on the "
                "run's data.eval_pairs (or data.valid_pairs) and data.passages"
            )


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}/")
        else:
            yield f"{prefix}{key}", value
