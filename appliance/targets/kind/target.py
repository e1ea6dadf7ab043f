"""The kind target's entry point: KindTarget and its engines (defined in lifecycle.py)."""

from appliance.targets.kind.lifecycle import ENGINES, KindTarget

__all__ = ["ENGINES", "KindTarget"]
