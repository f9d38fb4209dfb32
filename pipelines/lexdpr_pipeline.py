"""The lexdpr Kubeflow pipeline; `lexdpr_pipeline.yaml` next to this file is its compiled form.

The pipeline is defined in `lexdpr.pipeline.kfp_pipeline` (so `lex-dpr pipeline compile` works from an
installed package) and built from the stage graph in `lexdpr.pipeline.stages`, the same table the local
runner (`lex-dpr pipeline run --local`) executes. Regenerate the YAML after changing either:

    python pipelines/lexdpr_pipeline.py            # or: lex-dpr pipeline compile

`tests/pipeline/test_kfp.py` recompiles and compares, ignoring the SDK version line; `tests/pipeline/upstream/`
checks its Kubernetes settings against every supported KFP driver (2.3–2.15).
"""

from __future__ import annotations

import sys

from lexdpr.pipeline.commands import compile_pipeline
from lexdpr.pipeline.kfp_pipeline import lexdpr_pipeline

__all__ = ["lexdpr_pipeline"]

if __name__ == "__main__":
    for path in compile_pipeline(*sys.argv[1:2]):
        print(path)
