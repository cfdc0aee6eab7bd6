"""Distillation data factory: problems in, verified reasoning shards with provenance out."""

__version__ = "0.1.0"
