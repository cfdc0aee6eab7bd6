"""The evaluation config (`factory eval CONFIG.yaml`): benchmarks, k samples each, and the model's endpoint.

DeepScaleR's protocol is the default: k = 16 samples at temperature 0.6, top_p 0.95, up to 32k tokens,
the recipe's instruction after each problem; pass@1 is the mean over the k samples. The model answers
through the factory's own teacher client (any OpenAI-compatible endpoint, a pool, or the simulated
teacher), so generation is journaled, resumable and exactly-once like a `factory run`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from factory.config import (
    RECIPE_PROMPT,
    EndpointConfig,
    FilterConfig,
    LimitsConfig,
    PriceConfig,
    RayConfig,
    RepetitionFilter,
    SamplingConfig,
    ScriptFilter,
    SimulatedTeacherConfig,
    SourceConfig,
    TeacherConfig,
    TokenizerConfig,
    VerifyConfig,
    _Config,
    _resolve_source_paths,
    read_yaml,
    validated,
)


class EvalEndpoint(_Config):
    """Where the evaluated model answers: one of `base_url`/`base_url_env`, `endpoints` or `simulated`."""

    base_url: str | None = None
    base_url_env: str | None = None
    endpoints: list[EndpointConfig] = []
    simulated: SimulatedTeacherConfig | None = None
    model: str | None = None
    model_env: str | None = None
    api_key_env: str | None = None
    price: PriceConfig | None = None
    concurrency: int = Field(32, ge=1, le=100_000)
    timeout_s: float = Field(3600.0, gt=0, description="a 32k-token answer from a busy server takes a while")
    max_attempts: int = Field(6, ge=1)
    batch_size: int = Field(256, ge=1)
    limits: LimitsConfig = LimitsConfig()


def _eval_sampling() -> SamplingConfig:
    return SamplingConfig(temperature=0.6, top_p=0.95, max_tokens=32768)


def _eval_filters() -> FilterConfig:
    # graded as DeepScaleR's evaluation grades: the last boxed answer of the reply is the answer (none:
    # wrong; several different ones: the last), and a cut reply has none; a looping or mixed-script trace,
    # an unclosed <think> or a long one are no reason to call a right final answer wrong
    return FilterConfig(require_boxed=True, hedged="accept_last", reject_unclosed_think=False,
                        max_total_tokens=None, repetition=RepetitionFilter(enabled=False),
                        mixed_script=ScriptFilter(enabled=False))


class EvalConfig(_Config):
    """Benchmarks, how many samples of each problem, and the model to ask."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    benchmarks: list[SourceConfig] = Field(min_length=1)
    k: int = Field(16, ge=1, le=1024, description="samples per problem; pass@1 is their mean")
    sampling: SamplingConfig = Field(default_factory=_eval_sampling)
    prompt_template: str = Field(RECIPE_PROMPT, description="the user turn; {problem} is replaced, nothing else")
    system_prompt: str | None = None
    model: EvalEndpoint
    label: str | None = Field(None, description="the model's row in the results table (default: its model name)")
    tokenizer: TokenizerConfig
    filters: FilterConfig = Field(default_factory=_eval_filters)
    verify: VerifyConfig = VerifyConfig()
    ray: RayConfig = RayConfig()

    def teacher(self) -> TeacherConfig:
        """The model's endpoint as the teacher client takes it, asked k samples per problem."""
        return TeacherConfig.model_validate(self.model.model_dump() | dict(
            n=self.k, sampling=self.sampling.model_dump(), prompt_template=self.prompt_template,
            system_prompt=self.system_prompt))


def load_eval_config(path: str | os.PathLike) -> EvalConfig:
    """Read and validate an eval config; the endpoint is checked as the teacher client would take it."""
    path = Path(path)
    cfg: EvalConfig = validated(EvalConfig, read_yaml(path, "eval config"), path)
    validated(TeacherConfig, cfg.teacher().model_dump(), path)  # one of base_url / endpoints / simulated, ...
    _resolve_source_paths(cfg.benchmarks, cfg.tokenizer, path.parent)
    return cfg
