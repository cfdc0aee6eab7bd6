"""The pipeline file: one pydantic tree, validated before a single token is spent.

Every model forbids unknown keys, so a typo fails loudly. Relative paths are resolved against the
pipeline file's directory. Secrets never live here: the file names environment variables
(`api_key_env`, `base_url_env`, `model_env`) and they are read only when the run starts.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from factory.errors import ConfigError
from factory.redact import public_endpoint
from factory.store.records import CURRICULUM_BUCKETS

DEFAULT_PROMPT = "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{}."
# DeepScaleR's instruction, appended to each problem in its RL data and its evaluation
RECIPE_PROMPT = "{problem} Let's think step by step and output the final answer within \\boxed{}."


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


# a column, then `.key` into a mapping and `[i]` into a list (negative from the end): `prompt[-1].content`
FIELD_PATH = re.compile(r"[^.\[\]]+(\[-?\d+\])*(\.[^.\[\]]+(\[-?\d+\])*)*")


class FieldMap(_Config):
    """Which column of a source holds what: a column name, or a path into nested columns
    (`reward_model.ground_truth`, `prompt[-1].content`, `extra_info.index`)."""

    problem: str = Field("problem", description="problem text column or path")
    answer: str | None = Field("answer", description="reference answer column or path; None if the source has none")
    id: str | None = Field(None, description="row id column or path; the row index is used when absent")
    solution: str | None = Field(None, description="reference worked solution column or path, kept with the problem")

    @field_validator("problem", "answer", "id", "solution")
    @classmethod
    def _path(cls, value):
        if value is not None and not FIELD_PATH.fullmatch(value):
            raise ValueError(f"{value!r} is not a column or field path; write e.g. `reward_model.ground_truth` "
                             "or `prompt[-1].content`")
        return value


class SourceConfig(_Config):
    """A problem source: a HF dataset by name or local directory, or local JSONL/Parquet/CSV files."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    kind: Literal["hf", "jsonl", "parquet", "csv"]
    path: str | None = Field(None, description="local file or glob (jsonl, parquet, csv)")
    dataset: str | None = Field(None, description="HF hub dataset name, or a local dataset directory (hf)")
    subset: str | None = Field(None, description="HF dataset config name (hf)")
    split: str = "train"
    revision: str | None = Field(None, description="HF commit or tag, pinned for reproducibility")
    fields: FieldMap = FieldMap()
    limit: int | None = Field(None, ge=1, description="take only the first N rows")
    streaming: bool = Field(False, description="iterate the rows as they are read instead of materializing the "
                                               "dataset first (large HF datasets)")
    license: str | None = Field(None, description="the source's license (e.g. mit, cc-by-4.0); for hf sources "
                                                  "the license the dataset declares when not set")

    @model_validator(mode="after")
    def _location(self):
        if self.kind == "hf" and not self.dataset:
            raise ValueError(f"source {self.name!r}: kind 'hf' needs `dataset: owner/name`")
        if self.kind != "hf" and not self.path:
            raise ValueError(f"source {self.name!r}: kind {self.kind!r} needs `path: FILE`")
        return self


class SimulatedTeacherConfig(_Config):
    """Start the bundled simulated teacher (a test double) on a free loopback port for the run."""

    latency_ms: float = Field(50.0, ge=0)
    rate_wrong: float = Field(0.15, ge=0, le=1)
    rate_equivalent: float = Field(0.2, ge=0, le=1)
    rate_truncated: float = Field(0.05, ge=0, le=1)
    rate_duplicate: float = Field(0.05, ge=0, le=1)
    rate_429: float = Field(0.0, ge=0, le=1)
    rate_5xx: float = Field(0.0, ge=0, le=1)
    rate_timeout: float = Field(0.0, ge=0, le=1)
    rate_malformed: float = Field(0.0, ge=0, le=1)
    retry_after_s: float = Field(1.0, ge=0, description="Retry-After sent with simulated 429s")
    hang_s: float = Field(30.0, ge=0, description="how long a simulated timeout holds the request")
    window_requests: int | None = Field(None, ge=1, description="act like a naive rate-limiting proxy: accept at "
                                        "most this many requests per fixed `window_s` window and answer the "
                                        "rest 429 with no Retry-After; null: no such limit")
    window_s: float = Field(60.0, gt=0, description="the length of that window (windows start at multiples of it "
                                                    "on the wall clock, as a per-minute proxy's do)")
    mean_reasoning_tokens: int = Field(600, ge=10)
    reasoning_field: Literal["inline", "reasoning_content", "reasoning"] = "inline"
    model: str = "sim-r1"
    seed: int = 0
    record_times: bool = Field(False, description="keep every answered request's arrival and answer time in "
                               "/stats (for benchmarks; grows with the number of requests)")
    # the Batch API (/v1/files, /v1/batches) and its faults, for tests of teacher.mode: batch
    batch_delay_s: float = Field(0.2, ge=0, description="how long a batch stays validating/in_progress before "
                                 "its requests are answered")
    batch_expire: int = Field(0, ge=0, description="the first N batches created expire: every other request "
                              "is answered, the rest go to the error file as `batch_expired`")
    batch_fail_rate: float = Field(0.0, ge=0, le=1, description="share of a batch's requests answered with a "
                                   "500 in the error file")
    batch_file_not_found_once: bool = Field(False, description="the first create after each upload answers "
                                            "400 'Cannot find file' (the file is not processed yet)")
    batch_create_hang_s: float = Field(0.0, ge=0, description="a create registers the batch, then holds its "
                                       "answer this long (a create that times out after it took effect)")
    batch_hold: bool = Field(False, description="batches stay in_progress until SimTeacher.release_batches()")


class SamplingConfig(_Config):
    temperature: float = Field(0.6, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(16384, ge=1)
    seed: int | None = None


class PriceConfig(_Config):
    """What an endpoint costs: per million tokens (an API) or per GPU-hour (self-hosted)."""

    input_per_mtok: float = Field(0.0, ge=0, description="$ per million prompt tokens")
    output_per_mtok: float = Field(0.0, ge=0, description="$ per million completion tokens (reasoning included)")
    gpu_hour: float = Field(0.0, ge=0, description="$ per hour the endpoint is used, for self-hosted servers")
    batch_discount: float = Field(0.5, gt=0, le=1, description="teacher.mode: batch pays the token prices times "
                                  "this (the OpenAI Batch API's is half)")
    batch_input_per_mtok: float | None = Field(None, ge=0, description="$ per million prompt tokens through the "
                                               "Batch API; null: input_per_mtok x batch_discount")
    batch_output_per_mtok: float | None = Field(None, ge=0, description="$ per million completion tokens through "
                                                "the Batch API; null: output_per_mtok x batch_discount")

    def batch_price(self) -> PriceConfig:
        """The price of requests sent through the Batch API (tokens only: nothing runs by the hour)."""
        def pick(explicit: float | None, sync: float) -> float:
            return explicit if explicit is not None else sync * self.batch_discount

        return PriceConfig(input_per_mtok=pick(self.batch_input_per_mtok, self.input_per_mtok),
                           output_per_mtok=pick(self.batch_output_per_mtok, self.output_per_mtok))


class EndpointConfig(_Config):
    """One server of a pool of teacher endpoints serving the same model."""

    url: str | None = None
    url_env: str | None = Field(None, description="read the URL from this environment variable")
    api_key_env: str | None = Field(None, description="defaults to teacher.api_key_env")
    weight: float = Field(1.0, gt=0, description="share of traffic relative to the others")
    price: PriceConfig | None = None

    @model_validator(mode="after")
    def _where(self):
        if not (self.url or self.url_env):
            raise ValueError("each endpoint needs `url` or `url_env`")
        return self


class LimitsConfig(_Config):
    """Client-side budgets, for APIs with quotas and self-hosted servers that overload."""

    rpm: float | None = Field(None, gt=0, description="requests per minute, all workers together")
    tpm: float | None = Field(None, gt=0, description="tokens per minute (prompt + completion), all workers")
    adaptive: bool = Field(False, description="grow concurrency while healthy, back off on 429/503 (AIMD)")
    adaptive_start: int = Field(16, ge=1, description="starting in-flight limit per worker when adaptive")
    max_rate_limited_s: float = Field(3600.0, gt=0, description="waits on rate limits (429s, Retry-After) are not "
                                      "attempts; a sample fails only once every endpoint has been rate limited, "
                                      "with no request accepted, for this many seconds")


class TruncationConfig(_Config):
    """What to do with a sample whose answer (not reasoning) was cut by the token budget."""

    reask: bool = Field(False, description="ask once more with a larger budget")
    factor: float = Field(2.0, gt=1)
    max_tokens_cap: int = Field(32768, ge=1)


class UntilConfig(_Config):
    """Sample in rounds until enough traces of a problem are accepted, instead of n for every problem."""

    accepted: int = Field(ge=1, le=1024, description="stop asking for a problem once this many of its traces are "
                                                     "accepted (verified correct, within the largest curriculum "
                                                     "bucket, distinct)")
    max_n: int = Field(ge=1, le=1024, description="never ask more than this many samples of a problem")

    @model_validator(mode="after")
    def _reachable(self):
        if self.accepted > self.max_n:
            raise ValueError(f"until.accepted {self.accepted} can never be reached with max_n {self.max_n}; "
                             f"set max_n to at least {self.accepted}")
        return self


class ServeConfig(_Config):
    """Teacher servers the factory starts and stops itself: vLLM or SGLang replicas on the cluster's GPUs (one
    Ray actor each), or any OpenAI-compatible server by `command`. Restarted when they crash."""

    engine: Literal["vllm", "sglang"] = Field("vllm", description="the server to start: `vllm serve MODEL ...` or "
                                              "`python -m sglang.launch_server --model-path MODEL ...`")
    model: str | None = Field(None, description="the weights to serve (HF id or local directory); default: "
                              "teacher.model. Requests use teacher.model, the served name (--served-model-name)")
    tensor_parallel: int = Field(1, ge=0, description="GPUs one server spreads the model over "
                                 "(--tensor-parallel-size / --tp); 0 only with `command`")
    gpus_per_replica: int | None = Field(None, ge=0, description="GPUs each replica reserves (one placement group, "
                                         "one node); default: tensor_parallel. 0 only with `command`")
    cpus_per_replica: float = Field(1.0, ge=0, description="CPUs each replica reserves beside its GPUs")
    replicas: int | None = Field(None, ge=1, le=1024, description="how many servers; default: as many as the "
                                 "cluster's nodes hold (each node's GPUs // gpus_per_replica)")
    args: list[str] = Field([], description="more flags for the engine, as written, e.g. [--reasoning-parser, "
                            "deepseek_r1, --max-model-len, '32768']")
    command: str | None = Field(None, description="any OpenAI-compatible server instead of the engine: a command "
                                "line with {port}, and optionally {host}, {model} (the weights), {name} (the served "
                                "name), {tp}, {python} (the interpreter of the Ray worker)")
    host: str = Field("0.0.0.0", description="address the servers bind ({host}); the pool reaches each at its "
                      "node's address")
    env: dict[str, str] = Field({}, description="extra environment variables for the servers (stored with the "
                                "run: no secrets; those belong in the cluster's environment)")
    startup_timeout_s: float = Field(1800.0, gt=0, description="how long one server may take to load and answer "
                                     "GET /v1/models before the run stops (or the restart counts as failed)")
    max_restarts: int = Field(3, ge=0, description="restarts of each replica after its server crashed, in all")
    shutdown_grace_s: float = Field(30.0, ge=0, description="after SIGTERM, how long a server may take to exit "
                                    "before SIGKILL")

    @model_validator(mode="after")
    def _gpus(self):
        if self.gpus_per_replica is None:
            self.gpus_per_replica = self.tensor_parallel
        if self.command is None:
            if self.tensor_parallel < 1:
                raise ValueError(f"serve.tensor_parallel {self.tensor_parallel}: the {self.engine} engine needs at "
                                 "least 1 GPU; 0 is only for a `command` server")
            if self.gpus_per_replica < self.tensor_parallel:
                raise ValueError(f"serve.gpus_per_replica {self.gpus_per_replica} is below tensor_parallel "
                                 f"{self.tensor_parallel}; each replica needs at least its tensor-parallel GPUs")
        elif "{port}" not in self.command:
            raise ValueError(f"serve.command {self.command!r} has no {{port}}; the factory picks each server's port "
                             "and must pass it, e.g. `my-server --port {port}`")
        if self.command is not None and self.args:
            raise ValueError("serve.args are flags for the engine; with `command`, write them into the command")
        if self.gpus_per_replica == 0 and self.replicas is None:
            raise ValueError("serve.gpus_per_replica is 0, so the number of servers cannot follow the GPUs; set "
                             "`replicas: N`")
        return self


class BatchConfig(_Config):
    """`teacher.mode: batch`: how work is cut into Batch API files and how their batches are watched."""

    max_requests: int = Field(50_000, ge=1, le=50_000, description="most requests per batch file (the API's "
                              "limit is 50,000)")
    max_bytes: int = Field(200 * 10**6, ge=1024, le=200 * 10**6, description="largest batch file in bytes (the "
                           "API's limit is 200 MB)")
    poll_s: float = Field(30.0, gt=0, description="seconds between two looks at the batches in progress")
    max_attempts: int = Field(3, ge=1, le=20, description="batches one sample is put in at most: its first and "
                              "re-asks of what expired or failed; then it is journaled `failed`")


class TeacherConfig(_Config):
    """The teacher endpoint(s) and how to ask them."""

    base_url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://host:8000/v1")
    base_url_env: str | None = Field(None, description="read the base URL from this environment variable")
    endpoints: list[EndpointConfig] = Field([], description="several servers of one model, used as one pool")
    price: PriceConfig | None = Field(None, description="price of the single base_url endpoint (with `serve`: of "
                                      "each replica, gpu_hour per GPU)")
    model: str | None = None
    model_env: str | None = Field(None, description="read the model name from this environment variable")
    api_key_env: str | None = Field(None, description="environment variable holding the API key")
    simulated: SimulatedTeacherConfig | None = None
    serve: ServeConfig | None = Field(None, description="servers the factory starts for the run (vLLM, SGLang or a "
                                      "command), one Ray actor each, restarted on a crash and stopped at the end; "
                                      "`price.gpu_hour` is then per GPU")
    n: int = Field(4, ge=1, le=1024, description="samples per problem; with `until`, the first round's")
    until: UntilConfig | None = Field(None, description="ask in rounds until `accepted` traces of a problem pass, "
                                                        "at most `max_n` samples; null: n samples of every problem")
    sampling: SamplingConfig = SamplingConfig()
    system_prompt: str | None = None
    prompt_template: str = Field(DEFAULT_PROMPT,
                                 description="the user message; {problem} is replaced by the problem text")
    concurrency: int = Field(64, ge=1, le=100_000, description="requests in flight, all workers together")
    timeout_s: float = Field(600.0, gt=0)
    max_attempts: int = Field(6, ge=1)
    batch_size: int = Field(256, ge=1, description="most samples handed to a teacher worker at once")
    limits: LimitsConfig = LimitsConfig()
    truncation: TruncationConfig = TruncationConfig()
    mode: Literal["sync", "batch"] = Field("sync", description="sync: one request per sample as it is asked; "
                                           "batch: through the OpenAI Batch API (half price, within 24 hours)")
    batch: BatchConfig = Field(BatchConfig(), description="batch files and polling, for mode: batch")

    @model_validator(mode="after")
    def _endpoint(self):
        where = [bool(self.base_url or self.base_url_env), bool(self.endpoints), self.simulated is not None,
                 self.serve is not None]
        if sum(where) != 1:
            raise ValueError("teacher: set exactly one of `base_url`/`base_url_env`, `endpoints`, `simulated` or "
                             "`serve`")
        if self.simulated is None and not (self.model or self.model_env):
            raise ValueError("teacher: set `model` or `model_env`")
        if "{problem}" not in self.prompt_template:
            raise ValueError("teacher.prompt_template must contain {problem}")
        if self.mode == "batch" and self.endpoints:
            raise ValueError("teacher.mode: batch sends each batch to one API, not a pool of endpoints; set "
                             "base_url (or base_url_env) instead of endpoints, or use mode: sync")
        if self.mode == "batch" and self.serve is not None:
            raise ValueError("teacher.mode: batch needs the OpenAI Batch API, which the servers of `serve` (vLLM, "
                             "SGLang) do not have; use mode: sync with serve")
        if self.until is not None and self.until.max_n < self.n:
            raise ValueError(f"teacher.until.max_n {self.until.max_n} is below the first round's n {self.n}; "
                             f"set max_n to at least {self.n} or lower n")
        return self


class TokenizerConfig(_Config):
    """The tokenizer that token counts and curriculum buckets are measured in (the student's)."""

    name: str = Field(description="HF hub repo id, or a local tokenizer.json / directory holding one (with its "
                                  "tokenizer_config.json or chat_template.jinja when it has a chat template)")
    revision: str | None = None
    chat_template: str | None = Field(None, description="a Jinja file to count `length` with instead of the "
                                      "tokenizer's own template (e.g. a training version of R1-Distill's, which "
                                      "keeps the reasoning); relative to the pipeline file")


Script = Literal["latin", "han", "kana", "hangul", "cyrillic", "arabic", "hebrew", "devanagari", "thai"]


class RepetitionFilter(_Config):
    """Reject a trace that degenerates into a loop (reason `repetition`); only its tail is examined."""

    enabled: bool = True
    window_chars: int = Field(16384, ge=1024, le=2**20, description="examine only the last N characters")
    min_repeats: int = Field(8, ge=2, description="back-to-back copies of one block of sentences/lines: a loop")
    max_block_lines: int = Field(32, ge=1, le=256, description="longest repeated block looked for, in sentences/lines")
    min_loop_chars: int = Field(200, ge=1, description="shorter loops are ignored (`Hmm.` eight times is not one)")
    max_compression_ratio: float | None = Field(
        12.0, gt=1, description="zlib ratio of the window above which it is a loop (catches loops with no line "
                                "breaks); ordinary reasoning compresses 3-8x; null turns this check off")


class ScriptFilter(_Config):
    """Reject a trace that switches script, e.g. into Chinese mid-reasoning (reason `mixed_script`).

    Only letters count: digits, punctuation, math symbols, Greek and letterlike symbols (ℝ, ℓ, 𝑥) never do.
    """

    enabled: bool = True
    allowed_scripts: list[Script] = Field(["latin"], min_length=1, description="scripts the traces may be written in")
    max_share: float = Field(0.001, ge=0, lt=1, description="largest share of letters allowed in other scripts")

    @field_validator("allowed_scripts")
    @classmethod
    def _latin(cls, scripts):
        if "latin" not in scripts:  # variables and LaTeX commands are Latin letters in any language
            raise ValueError(f"{scripts} must include 'latin', which math notation is written in; "
                             f"use e.g. [latin, han] for Chinese traces")
        return scripts


class FilterConfig(_Config):
    """Trace filters applied before answer checking; each rejection has its own reason code."""

    reject_truncated: bool = True
    reject_unclosed_think: bool = True
    reject_empty_reasoning: bool = False
    require_boxed: bool = Field(False, description="only a \\boxed{} final answer counts; else `no_answer`")
    hedged: Literal["reject", "accept_last"] = Field(
        "reject", description="several different boxed answers: reject (`hedged`) or judge the last one")
    max_total_tokens: int | None = Field(CURRICULUM_BUCKETS[-1], ge=1, le=CURRICULUM_BUCKETS[-1],
                                         description="correct samples whose `length` (tokens with the chat "
                                                     "template) is above it are rejected as `over_length`; at "
                                                     "most the largest curriculum bucket, which publishing "
                                                     "enforces anyway; null: no limit (an evaluation)")
    repetition: RepetitionFilter = RepetitionFilter()
    mixed_script: ScriptFilter = ScriptFilter()

    @field_validator("repetition", "mixed_script", mode="before")
    @classmethod
    def _switch(cls, value):
        # `repetition: false` is the obvious way to turn a filter off; accept it as {enabled: false}
        return {"enabled": value} if isinstance(value, bool) else value


class MajorityVoteConfig(_Config):
    """Label problems without a reference answer by the teacher's own majority answer (opt-in)."""

    enabled: bool = Field(False, description="ask `no_reference` problems too and judge their samples against "
                                             "the answer most of them give")
    min_agreement: float = Field(0.5, gt=0, le=1, description="least share of the samples with an answer that "
                                 "must give the majority answer; below it nothing of the problem is published "
                                 "(`no_majority`)")


class VerifyConfig(_Config):
    timeout_s: float = Field(5.0, gt=0, description="hard wall-clock limit per sample for the sympy tier")
    batch_size: int = Field(512, ge=1, description="samples per Ray verify task")
    majority_vote: MajorityVoteConfig = MajorityVoteConfig()
    # where graders differ (factory.verify.options.Options, built by `options_of`)
    prose_answers: bool = Field(False, description="also take an answer stated only in prose: the last math of "
                                                   "the closing line, with no box, 'answer' or conclusion word")
    ordered_lists: bool = Field(False, description="a bare list of answers (or one box per part) must follow "
                                                   "the reference's order; off: any order (sets never, tuples "
                                                   "always ordered)")



class SelectConfig(_Config):
    """Which accepted traces of a problem are published, and which problems publish at all."""

    near_duplicate: float | None = Field(
        0.8, gt=0, le=1, description="estimated Jaccard similarity (MinHash, word 5-grams of the reasoning) at or "
                                     "above which a trace is a near-duplicate of an earlier one of the same problem "
                                     "and is not published (`near_duplicate_trace`); null: exact duplicates only")
    k: int | None = Field(None, ge=1, description="most traces published per problem; null: all")
    policy: Literal["shortest", "diverse", "all"] = Field(
        "all", description="which k: shortest (fewest total tokens), diverse (greedy max-min MinHash distance, "
                           "from the shortest) or all (needs k: null); the rest are `not_selected`")
    pass_rate: tuple[float, float] | None = Field(
        None, description="[lo, hi]: publish only problems whose teacher pass rate is within (RL sets: "
                          "e.g. [0.1, 0.9], neither always nor never solved); others are `pass_rate_out_of_range`")

    @model_validator(mode="after")
    def _coherent(self):
        if self.policy == "all" and self.k is not None:
            raise ValueError(f"k: {self.k} with policy: all keeps every trace anyway; set policy: shortest or "
                             "diverse, or k: null")
        if self.pass_rate is not None and not 0 <= self.pass_rate[0] <= self.pass_rate[1] <= 1:
            raise ValueError(f"pass_rate {list(self.pass_rate)} must be [lo, hi] with 0 <= lo <= hi <= 1")
        return self


class PublishConfig(_Config):
    select: SelectConfig = Field(SelectConfig(), description="trace selection and the pass-rate filter")
    max_shard_rows: int = Field(20_000, ge=1)
    max_shard_bytes: int = Field(256 * 2**20, ge=1024, description="target on-disk size per shard")
    row_group_rows: int = Field(1000, ge=1)


class RayConfig(_Config):
    address: str | None = Field(None, description="cluster address; RAY_ADDRESS overrides, local when unset")
    num_workers: int | None = Field(None, ge=1, description="streaming workers (the teacher's); default: CPUs")
    pip: Literal["pinned", "none"] | list[str] = Field(
        "pinned", description="on a cluster, what the runtime environment installs beside the shipped package: "
                              "pinned (the factory's dependencies at the versions the driver runs), none (the "
                              "nodes' image has them), or a list of pip requirements")


class NearDuplicateConfig(_Config):
    """Near-duplicate problems: MinHash-LSH proposes pairs, equal numbers and formulas confirm them."""

    enabled: bool = True
    threshold: float = Field(0.5, gt=0, le=1, description="least Jaccard similarity of the matching forms' "
                             "token shingles for a pair to be merged")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations")
    shingle_tokens: int = Field(3, ge=1, le=16, description="tokens per shingle")


class ContaminationConfig(_Config):
    """How a training problem is matched against the eval sets in `decontaminate`."""

    ngram: int = Field(13, ge=4, le=50, description="n-gram length in tokens: 13 as OLMo and Tulu use, 8 as "
                       "open-r1 does")
    threshold: float = Field(0.5, gt=0, le=1, description="least share of an eval problem's n-grams found in a "
                             "training problem for it to count as a copy")
    fuzzy_threshold: float = Field(0.9, gt=0, le=1, description="short eval problems: least share of the shorter "
                                   "matching form (eval or training) found in order in the other")
    short_tokens: int = Field(24, ge=1, description="eval problems with fewer tokens are compared whole (fuzzy), "
                              "not by n-grams")
    same_numbers: bool = Field(True, description="an n-gram match also needs every number of the eval problem: "
                               "the same template with other numbers is another problem; false: n-grams alone")


class CurateConfig(_Config):
    """Dedup and decontamination on the matching form (LaTeX-unified, case-folded, instructions removed)."""

    near_duplicates: NearDuplicateConfig = NearDuplicateConfig()
    contamination: ContaminationConfig = ContaminationConfig()


class PipelineConfig(_Config):
    """A whole run, as described by one YAML file in `pipelines/`."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    sources: list[SourceConfig] = Field(min_length=1)
    decontaminate: list[SourceConfig] = Field([], description="eval sets whose problems must not be trained on")
    limit: int | None = Field(None, ge=1, description="first K problems after dedup")
    curate: CurateConfig = CurateConfig()
    teacher: TeacherConfig
    tokenizer: TokenizerConfig
    filters: FilterConfig = FilterConfig()
    verify: VerifyConfig = VerifyConfig()
    publish: PublishConfig = PublishConfig()
    ray: RayConfig = RayConfig()

    @model_validator(mode="after")
    def _unique_sources(self):
        names = [s.name for s in self.sources + self.decontaminate]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"source names must be unique, repeated: {sorted(dup)}")
        return self

    def stored(self) -> dict:
        """The resolved config as stored with the run: a base URL loses credentials and query string."""
        data = self.model_dump(mode="json")
        if self.teacher.base_url:
            data["teacher"]["base_url"] = public_endpoint(self.teacher.base_url)
        for endpoint in data["teacher"]["endpoints"]:
            if endpoint["url"]:
                endpoint["url"] = public_endpoint(endpoint["url"])
        return data

    def fingerprint(self) -> str:
        """Canonical JSON of the stored config."""
        return json.dumps(self.stored(), sort_keys=True)


def _resolve_source_paths(sources: list[SourceConfig], tokenizer: TokenizerConfig, base: Path) -> None:
    """Sources' files and a local tokenizer, made absolute against the config file's directory."""
    def fix(p: str | None) -> str | None:
        if p is None or Path(p).is_absolute():
            return p
        return str((base / p).resolve())

    for src in sources:
        src.path = fix(src.path)
        if src.kind == "hf":
            src.dataset = resolve_path(src.dataset, base)  # a local directory; a hub id stays as written
    tok = base / tokenizer.name
    if tok.exists():
        tokenizer.name = str(tok.resolve())
    tokenizer.chat_template = fix(tokenizer.chat_template)


def _resolve_paths(cfg: PipelineConfig, base: Path) -> PipelineConfig:
    _resolve_source_paths(cfg.sources + cfg.decontaminate, cfg.tokenizer, base)
    return cfg


def _one_line(err: ValidationError, path: Path) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"].removeprefix("Value error, ")
    extra = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    if first["type"] == "extra_forbidden":
        msg = "unknown key; check the spelling against README's reference for this kind of file"
    return f"{path}: {where}: {msg}{extra}"


def read_yaml(path: str | os.PathLike, what: str = "pipeline") -> dict:
    """The mapping a YAML config file holds; `ConfigError` (one line) when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} file {str(path)!r} not found; pass the path of a YAML file, "
                          "e.g. pipelines/demo.yaml")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: not valid YAML ({getattr(e, 'problem', e)}); fix the syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    return raw


def validated(model: type[BaseModel], raw: dict, path: Path):
    """`model` validated from `raw`, or `ConfigError` naming the file, the key and the problem in one line."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_one_line(e, Path(path))) from None


def resolve_path(value: str | None, base: Path) -> str | None:
    """A path from a config file, made absolute against the file's directory (globs and ids left alone
    when nothing there exists: an HF id looks like a relative path)."""
    if value is None or Path(value).is_absolute():
        return value
    candidate = base / value
    if candidate.exists() or any(c in value for c in "*?[") or value.startswith(("./", "../")):
        return str(candidate.resolve()) if not any(c in value for c in "*?[") else str(base.resolve() / value)
    return value


def config_kind(raw: dict) -> str:
    """Which kind of config a file holds, by its distinctive key: `train` (method), `eval` (benchmarks) or
    `pipeline` (anything else, validated as one)."""
    if "method" in raw:
        return "train"
    if "benchmarks" in raw:
        return "eval"
    return "pipeline"


def load_pipeline(path: str | os.PathLike) -> PipelineConfig:
    """Read and validate a pipeline file; raise `ConfigError` with one line naming the problem."""
    path = Path(path)
    cfg = validated(PipelineConfig, read_yaml(path), path)
    return _resolve_paths(cfg, path.parent)
