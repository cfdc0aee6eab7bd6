"""Sources: problems from HF datasets (hub or local), local JSONL, Parquet and CSV files, all through one
field mapping (nested paths included), normalized, given content-hash ids, deduplicated exactly and
decontaminated against the eval sets; each source recorded with its license.

`loaders` reads a source's rows (`fieldpath` walks nested fields, `licenses` finds what a dataset
declares); `problems` decides each row's status and builds the problems table.
"""

from factory.stages.sources.loaders import RawProblem, load_source, open_source
from factory.stages.sources.problems import (
    build_problems,
    load_problems,
    normalize_text,
    problem_id,
    read_sources,
    reference_answers,
)

__all__ = ["RawProblem", "build_problems", "load_problems", "load_source", "normalize_text", "open_source",
           "problem_id", "read_sources", "reference_answers"]
