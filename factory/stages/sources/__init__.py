"""Sources: problems from HF datasets by name, local JSONL and Parquet files, all through one field mapping,
normalized, given content-hash ids, deduplicated exactly and decontaminated against the eval sets.

`loaders` reads a source's rows; `problems` decides each row's status and builds the problems table.
"""

from factory.stages.sources.loaders import RawProblem, load_source
from factory.stages.sources.problems import build_problems, load_problems, normalize_text, problem_id, reference_answers

__all__ = ["RawProblem", "build_problems", "load_problems", "load_source", "normalize_text", "problem_id",
           "reference_answers"]
