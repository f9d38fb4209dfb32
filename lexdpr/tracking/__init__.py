"""Run tracking: run folders (docs/design.md), an optional offline W&B mirror, and metric lines on stdout."""

from lexdpr.tracking.run_folder import RunFolder, new_run_id
from lexdpr.tracking.tracker import RunTracker

__all__ = ["RunFolder", "RunTracker", "new_run_id"]
