"""The published data contracts: one pydantic model per record, Arrow schemas derived from them.

The pydantic models are the single source of truth. `arrow_schema()` turns a model into an explicit
Arrow schema (no inference anywhere), and `factory.store.schemas` writes their JSON Schemas to `schemas/`,
where a test checks they have not drifted.
"""

from __future__ import annotations

import types
import typing
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

CURRICULUM_BUCKETS = (8192, 16384, 24576, 32768)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(_Record):
    """One chat turn, the shape TRL's SFTTrainer reads from a `messages` column."""

    role: Literal["system", "user", "assistant"]
    content: str


class Problem(_Record):
    """A normalized problem as it enters the factory (one row of `RUN_DIR/problems.parquet`)."""

    problem_id: str = Field(description="sha256 prefix of the normalized problem text")
    source: str = Field(description="name of the source in the pipeline file")
    source_row: str = Field(description="row id inside that source (its id field, else the row index)")
    problem: str
    reference_answer: str | None
    solution: str | None = Field(None, description="the source's reference worked solution, when it has one")
    status: Literal["ok", "duplicate", "no_reference", "contaminated", "empty"]
    duplicate_of: str | None = Field(None, description="source:row of the copy that was kept, for every other "
                                     "member of a group of copies (exact or near)")
    duplicate_similarity: float | None = Field(None, description="Jaccard similarity of the matching forms' "
                                               "shingles to the kept copy; 1.0 for the same matching form")
    kept_because: Literal["has_reference", "source_priority", "first_seen"] | None = Field(
        None, description="why the kept copy was preferred to this one")
    contaminated_by: str | None = Field(None, description="benchmark:row of the best eval-set match (of a copy of "
                                        "this problem, when only the copy matched); all matches are in provenance "
                                        "`contaminated_by`")
    samples_judged: int | None = Field(None, description="teacher samples of this problem that got a verdict; "
                                       "filled at publish, null before and for problems never asked")
    samples_correct: int | None = Field(None, description="of those, the ones whose answer matched the reference "
                                        "(over-length ones included: the answer was right)")
    pass_rate: float | None = Field(None, description="samples_correct / samples_judged: the problem's difficulty "
                                    "for the teacher")


class ContaminationMatch(_Record):
    """One eval-set problem a training row copies (one row of provenance `contaminated_by`)."""

    source: str
    source_row: str
    benchmark: str = Field(description="name of the eval set in the pipeline's `decontaminate` list")
    eval_row: str = Field(description="row id inside that eval set")
    method: str = Field(description="ngram, fuzzy, or duplicate:<method> when a copy of this row matched")
    score: float = Field(description="ngram: share of the eval problem's n-grams found; fuzzy: similarity ratio")


class SourceRecord(_Record):
    """A source of a run as it was read (a row of provenance `sources`, an entry of the manifest's `sources`)."""

    name: str = Field(description="name of the source in the pipeline file (`problems.source`)")
    role: Literal["train", "decontaminate"] = Field(
        description="train: its problems are asked; decontaminate: an eval set whose problems are kept out")
    kind: str = Field(description="hf, jsonl, parquet or csv")
    location: str = Field(description="HF dataset id or local dataset directory (hf), else the file path or glob")
    subset: str | None = Field(description="HF dataset config name")
    split: str | None = Field(description="HF split read; null for local files")
    revision: str | None = Field(description="the HF revision asked for in the pipeline file")
    commit: str | None = Field(description="the hub commit that revision (or main) pointed at when read; null "
                               "for local data or when the hub did not say")
    license: str | None = Field(description="null: unknown")
    license_from: Literal["pipeline", "dataset"] | None = Field(
        description="pipeline: set in the pipeline file; dataset: declared by the dataset's own info or card")
    rows: int = Field(description="rows listed in problems (train), or checked against (decontaminate)")


class SampleResult(_Record):
    """One teacher sample as the journal stores it (one JSON line of `RUN_DIR/journal/*.jsonl`).

    Written before the sample counts as done; everything downstream (verify, publish, provenance) is
    derived from these lines, so they hold the exact request and everything the teacher said.
    """

    sample_id: str = Field(description="hash of problem id, sample index, model, prompt template, sampling")
    problem_id: str
    sample_index: int
    session_id: str = Field(description="the `factory run` invocation that made this request")
    model: str
    endpoint: str = Field(description="base URL, never with credentials")
    messages: list[Message] = Field(description="the exact chat messages sent")
    sampling: str = Field(description="sampling parameters sent, as canonical JSON")
    prompt_template_hash: str
    attempts: int
    outcome: Literal["complete", "truncated_reasoning", "truncated_answer", "empty", "filtered", "failed",
                     "rejected"] = Field(description="failed: transient errors outlasted the retries, or an "
                                         "unexpected one (--retry-failed asks again); rejected: the endpoint "
                                         "refused this request (4xx)")
    error: str | None
    error_class: str | None = Field(None, description="class of `error`: 429, 5xx, timeout, connection, "
                                    "malformed, 4xx, refused or other (absent in journals of before 2026-11-30)")
    attempt_errors: list[str] | None = Field(None, description="what each failed attempt met, in order (the "
                                             "last one's is also `error` when the sample failed)")
    attempt_classes: list[str] | None = Field(None, description="the class of each of `attempt_errors`")
    finish_reason: str | None
    reasoning: str | None = Field(description="reasoning text, tags stripped")
    answer: str | None = Field(description="content after the reasoning")
    reasoning_source: str = Field(description="reasoning_content, reasoning, think_tags, think_unopened, "
                                  "thought_tags (<|begin_of_thought|>), thought_unopened, none")
    think_closed: bool = Field(description="False when an inline reasoning block was opened but never closed")
    prompt_tokens: int | None = Field(description="usage reported by the endpoint")
    completion_tokens: int | None
    reasoning_tokens: int | None
    started_at: float = Field(description="unix time the first attempt started")
    finished_at: float
    latency_s: float = Field(description="seconds from first attempt to final answer, retries included")


class VerdictRow(_Record):
    """What the verify stage decided about one teacher sample (one row of `RUN_DIR/verdicts/*.parquet`)."""

    sample_id: str
    problem_id: str
    correct: bool
    reason: str = Field(description="reason code: correct, wrong_answer, no_answer, truncated, ...")
    predicted: str | None
    trace_hash: str | None = Field(description="hash of reasoning + answer, for exact trace dedup")
    minhash: bytes | None = Field(None, description="MinHash of the reasoning's word 5-grams (128 little-endian "
                                  "uint32), for near-duplicate traces; null unless correct and non-empty")
    label: str | None = Field(None, description="the majority answer this sample was judged against, for a "
                              "problem without a reference (verify.majority_vote); null otherwise")
    label_agreement: float | None = Field(None, description="share of the problem's samples with an answer that "
                                          "gave the majority answer (also when below min_agreement)")
    prompt_tokens: int
    reasoning_tokens: int
    answer_tokens: int
    total_tokens: int
    length: int = Field(description="tokens of the published messages under the student's chat template")
    verify_ms: float


class PublishedRow(_Record):
    """One row of a published shard `data/<bucket>/train-XXXXX-of-YYYYY.parquet`."""

    id: str = Field(description="sample id; joins provenance requests.sample_id and published.sample_id")
    problem_id: str = Field(description="joins provenance problems.problem_id")
    run_id: str = Field(description="joins provenance runs.run_id")
    source: str
    source_row: str
    problem: str
    reference_answer: str
    reasoning: str = Field(description="the teacher's reasoning, without <think> tags")
    answer: str = Field(description="the teacher's final answer text after the reasoning")
    predicted_answer: str = Field(description="the answer the verifier extracted from `answer`")
    messages: list[Message] = Field(description="user prompt and assistant reply, ready for TRL SFTTrainer")
    model: str
    sample_index: int
    prompt_tokens: int = Field(description="tokens of the prompt turns (with the chat template's generation prompt, "
                                           "when the tokenizer has a template)")
    reasoning_tokens: int = Field(description="tokens of `reasoning`")
    answer_tokens: int = Field(description="tokens of `answer`")
    total_tokens: int = Field(description="prompt_tokens + reasoning_tokens + answer_tokens (the assistant turn's "
                                          "markers and <think> tags are not in it; `length` has everything)")
    length: int = Field(description="tokens of `messages` under the student's chat template, `<think>` tags included: "
                                    "what the student trains on (for length-grouped sampling)")
    curriculum_bucket: int = Field(description="smallest of 8192/16384/24576/32768 that fits `length`")
    samples_judged: int = Field(description="teacher samples of this problem that got a verdict")
    samples_correct: int = Field(description="of those, the ones whose answer matched the reference")
    pass_rate: float = Field(description="samples_correct / samples_judged: the problem's difficulty for the teacher")
    label_source: Literal["reference", "majority"] = Field(
        description="where reference_answer comes from: the source, or the teacher's majority answer")
    label_agreement: float | None = Field(description="for a majority label, the share of the problem's samples "
                                          "with an answer that agreed on it; null for a reference")


class ShardEntry(_Record):
    path: str = Field(description="path relative to the run directory")
    rows: int
    bytes: int
    sha256: str
    bucket: int | None = Field(None, description="the curriculum bucket of every row in the shard (absent in "
                               "manifests of before 2026-11-30, whose shards mixed buckets)")


class Manifest(_Record):
    """`RUN_DIR/manifest.json`: what was published, and how to check it."""

    format_version: Literal[1] = 1
    run_id: str
    pipeline: str
    created_at: str
    tokenizer: str
    tokenizer_revision: str | None = Field(None, description="the hub commit the tokenizer came from (null: local)")
    tokenizer_sha256: str | None = Field(None, description="sha256 of the tokenizer.json the lengths were counted with")
    chat_template_sha256: str | None = Field(None, description="sha256 of the chat template applied to count "
                                             "`length`; null: the tokenizer has none (texts counted as they are)")
    shards: list[ShardEntry]
    counts: dict[str, int] = Field(description="problems, samples, published and rejections by reason")
    curriculum_buckets: dict[str, int] = Field(description="published rows per bucket (token limit -> rows)")
    token_stats: dict[str, float] = Field(description="min, mean, p50, p90, max of `length`")
    sources: list[SourceRecord] = Field([], description="where the problems came from, with their licenses "
                                        "(absent in manifests of before 2026-11-30)")


def assistant_turn(reasoning: str, answer: str) -> str:
    """The published assistant message: the reasoning in <think> tags, then the answer (the R1 chat format).

    `factory.stages.publish.select.ROWS_SQL` builds the same text in SQL; a test holds the two together.
    """
    return f"<think>\n{reasoning}\n</think>\n\n{answer}"


def asked_statuses(majority_vote: bool) -> list[str]:
    """The problem statuses the teacher is asked about: `ok`, and `no_reference` under a majority vote."""
    return ["ok", "no_reference"] if majority_vote else ["ok"]


def bucket_for(length: int) -> int | None:
    """Return the smallest curriculum bucket that fits a row's `length`, or None when none does."""
    for limit in CURRICULUM_BUCKETS:
        if length <= limit:
            return limit
    return None


_SCALARS = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_(), bytes: pa.binary()}


def _arrow_type(annotation) -> tuple[pa.DataType, bool]:
    """Map a field annotation to (Arrow type, nullable)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _arrow_type(args[0])[0], True
    if origin is Literal:
        return pa.string(), False
    if origin is list:
        (item,) = typing.get_args(annotation)
        return pa.list_(_arrow_type(item)[0]), False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct(arrow_schema(annotation)), False
    return _SCALARS[annotation], False


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The explicit Arrow schema of a record model (field order kept)."""
    fields = []
    for name, info in model.model_fields.items():
        dtype, nullable = _arrow_type(info.annotation)
        fields.append(pa.field(name, dtype, nullable=nullable))
    return pa.schema(fields)


PROBLEM_SCHEMA = arrow_schema(Problem)
CONTAMINATION_SCHEMA = arrow_schema(ContaminationMatch)
SOURCE_SCHEMA = arrow_schema(SourceRecord)
SAMPLE_SCHEMA = arrow_schema(SampleResult)
VERDICT_SCHEMA = arrow_schema(VerdictRow)
PUBLISHED_SCHEMA = arrow_schema(PublishedRow)
