"""Pipelines: load KFP v2 pipelines, type their arguments, run them, and report a PipelineRun."""
