"""The local target's tuning engine: Katib Experiments as local processes beside the stack."""

from __future__ import annotations

from appliance.stack import Stack
from appliance.tuning.engine import TuningEngine


def engine(stack: Stack) -> TuningEngine:
    """Trials run under the stack's run dir and get its object store's environment (s3:// URIs)."""
    return TuningEngine(stack.run_dir / "tuning", stack.object_store.env())
