"""Sources: problems from HF datasets (hub or local), local JSONL, Parquet and CSV files, all through one
field mapping (nested paths included), given content-hash ids, then curated: exact and near-duplicate copies
grouped, eval-set copies removed; each source recorded with its license.

`loaders` reads a source's rows (`fieldpath` walks nested fields, `licenses` finds what a dataset declares);
`canonical` is the matching form; `near_dup` and `decontam` find copies; `curate` decides each row's status;
`problems` builds a pipeline's problems table; `report` writes what curation decided for people to read.
"""

from factory.stages.sources.curate import Curation, curate
from factory.stages.sources.ids import normalize_text, problem_id
from factory.stages.sources.loaders import RawProblem, load_source, open_source
from factory.stages.sources.problems import build_problems, curate_pipeline, load_problems, reference_answers

__all__ = ["Curation", "RawProblem", "build_problems", "curate", "curate_pipeline", "load_problems", "load_source",
           "normalize_text", "open_source", "problem_id", "reference_answers"]
