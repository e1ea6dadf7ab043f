"""Reference pipelines (KFP v2) and reusable components: stub training, evaluation, and the
promotion gate (gate_model / promote_model) that users can drop into their own pipelines."""
