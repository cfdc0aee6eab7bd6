"""Problem sources: HF datasets by name, local JSONL and Parquet files, all through one field mapping."""

from factory.sources.loaders import RawProblem, load_source
from factory.sources.problems import build_problems, normalize_text, problem_id, reference_answers

__all__ = ["RawProblem", "build_problems", "load_source", "normalize_text", "problem_id", "reference_answers"]
