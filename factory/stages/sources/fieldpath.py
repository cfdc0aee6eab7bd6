"""Field paths into nested columns: `reward_model.ground_truth`, `prompt[-1].content`, `extra_info.index`.

A path is a column, then `.key` steps into mappings and `[i]` steps into lists. A column whose own
name is the whole path wins, so flat columns with dots in their names still work. A path that names
no column or key is an error naming what does exist; a row whose value along the path is missing
(null, or a list too short) simply has no value there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

Step = str | int
_STEP = re.compile(r"\[(-?\d+)\]|([^.\[\]]+)")


class PathError(ValueError):
    """A path that does not fit the data; the message says where it stops and what is there."""


def parse(path: str, columns: Sequence[str] | None = None) -> list[Step]:
    """The steps of `path` (validated by `config.FIELD_PATH`); a column literally named `path` is one step."""
    if columns is not None and path in columns:
        return [path]
    return [int(index) if index else key for index, key in _STEP.findall(path)]


def _shown(steps: list[Step]) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else (f".{s}" if i else s) for i, s in enumerate(steps))


def _keys(value: Mapping) -> str:
    return ", ".join(map(str, value)) or "none"


def resolve(row: Mapping, steps: list[Step]):
    """The value at `steps` in `row`; None when a value along the way is null or a list is too short."""
    value = row
    for i, step in enumerate(steps):
        where = _shown(steps[:i]) or "the row"
        if value is None:
            return None
        if isinstance(step, int):
            if isinstance(value, Mapping):
                raise PathError(f"{where!r} is a mapping (keys: {_keys(value)}), not a list")
            if not isinstance(value, (list, tuple)):
                raise PathError(f"{where!r} is {type(value).__name__}, not a list")
            if not -len(value) <= step < len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, Mapping):
                kind = "a list; index it, e.g. [-1]" if isinstance(value, (list, tuple)) else type(value).__name__
                raise PathError(f"{where!r} is {kind}, not a mapping")
            if step not in value:
                if i == 0:
                    raise PathError(f"column {step!r} not found (columns: {_keys(value)})")
                raise PathError(f"key {step!r} not found in {where!r} (keys: {_keys(value)})")
            value = value[step]
    return value


def check_features(features: Mapping, steps: list[Step]):
    """Check `steps` against a `datasets.Features` tree before any row is read, so a wrong path fails even
    when every row's value is null; return a sample of what the path leads to."""
    return resolve(_skeleton(features), steps)


def _skeleton(feature):
    """A sample value shaped like `feature`: mappings for structs, one-item lists for lists, typed leaves."""
    if isinstance(feature, Mapping):
        return {key: _skeleton(sub) for key, sub in feature.items()}
    if isinstance(feature, (list, tuple)):  # the old `[feature]` spelling of a list
        return [_skeleton(feature[0])] if feature else []
    inner = getattr(feature, "feature", None)  # datasets.List / LargeList / Sequence
    if inner is not None:
        return [_skeleton(inner)]
    dtype = str(getattr(feature, "dtype", ""))
    return 0 if dtype.startswith(("int", "uint")) else 0.0 if dtype.startswith("float") else ""


def structured(value) -> str | None:
    """Why `value` is not text (a mapping, or a list of mappings), or None when it is text-like."""
    if isinstance(value, Mapping):
        return f"a mapping (keys: {_keys(value)})"
    if isinstance(value, (list, tuple)) and any(isinstance(v, Mapping) for v in value):
        keys = next(v for v in value if isinstance(v, Mapping))
        return f"a list of mappings (keys: {_keys(keys)}); pick one, e.g. [-1].{next(iter(keys), 'key')}"
    return None
