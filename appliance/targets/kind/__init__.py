"""The kind target (Docker + kind + kubectl)."""
