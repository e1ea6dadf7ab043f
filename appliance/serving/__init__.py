"""Model serving: a stable front proxy per deployment and the deploy/rollout/rollback lifecycle."""
