"""Content-hash identities: what makes two requests "the same sample".

A sample's id covers everything that changes what the teacher is asked (problem, sample index, model,
prompt template, sampling parameters) except the token budget, so raising `max_tokens` keeps ids and
a finished sample is never paid for twice.
"""

from __future__ import annotations

import hashlib
import json

from factory.config import TeacherConfig


def _digest(obj, length: int) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:length]


def prompt_template_hash(teacher: TeacherConfig) -> str:
    return _digest({"system": teacher.system_prompt, "user": teacher.prompt_template}, 16)


def sampling_params(teacher: TeacherConfig) -> dict:
    """Sampling parameters as sent to the endpoint (None values left out)."""
    return {k: v for k, v in teacher.sampling.model_dump().items() if v is not None}


def sample_id(problem_id: str, index: int, model: str, template_hash: str, sampling: dict) -> str:
    identity = {k: v for k, v in sampling.items() if k != "max_tokens"}
    return _digest([problem_id, index, model, template_hash, identity], 24)


def chat_prompt(template: str, problem: str, system_prompt: str | None = None) -> list[dict]:
    """The chat turns that ask `problem` (`{problem}` replaced; no other brace handling)."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": template.replace("{problem}", problem)})
    return messages


def render_messages(teacher: TeacherConfig, problem: str) -> list[dict]:
    """The exact chat messages the teacher is sent for a problem."""
    return chat_prompt(teacher.prompt_template, problem, teacher.system_prompt)
