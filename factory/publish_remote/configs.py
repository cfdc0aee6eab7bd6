"""The card's `configs` against the manifest: what `datasets.load_dataset(REPO, CONFIG)` would load.

Patterns are matched the way the HF loader resolves `data_files` (fsspec globs from the repo root:
`*` and `?` stay within one path segment, `**` crosses them). Rules, one problem line each:
every pattern matches at least one file and only files the manifest lists (a glob that catches an
unlisted Parquet file would load it); `default` covers every shard; a cumulative `leNk` config covers
exactly the shards whose `bucket` is at most N*1024, and the rows it covers add up to the manifest's
`curriculum_buckets` summed up to that limit; every limit with rows has its config, and no config covers
no row (`datasets` refuses to load a config whose files hold no row, so the card leaves those out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import yaml
from fsspec.utils import glob_translate

from factory.stages.publish.card import config_name

_LE = re.compile(r"le(\d+)k")


def front_matter(card: str) -> dict:
    """The YAML front matter of a dataset card (empty when it has none)."""
    if not card.startswith("---"):
        return {}
    _, _, rest = card.partition("\n")
    meta, sep, _ = rest.partition("\n---")
    if not sep:
        return {}
    loaded = yaml.safe_load(meta)
    return loaded if isinstance(loaded, dict) else {}


def glob_regex(pattern: str) -> re.Pattern:
    """A data_files glob as a regex over repo-relative paths: fsspec's own translation, which its `glob` (and so
    the HF loader) resolves patterns with."""
    return re.compile(glob_translate(pattern))


def _patterns(data_files) -> Iterable[str]:
    """Every path pattern of a config's data_files, whatever shape the card gives it."""
    if isinstance(data_files, str):
        yield data_files
    elif isinstance(data_files, dict):
        if "path" in data_files:
            yield from _patterns(data_files["path"])
        else:  # {split: patterns}
            for value in data_files.values():
                yield from _patterns(value)
    elif isinstance(data_files, list):
        for item in data_files:
            yield from _patterns(item)


def config_problems(configs: list, shards: list[dict], present: Iterable[str],
                    curriculum_buckets: dict[str, int]) -> tuple[list[str], int]:
    """Check the card's `configs` against the manifest's shards; return (problem lines, configs checked).

    Args:
        configs: the front matter's `configs` list.
        shards: the manifest's `shards` entries (path, rows, and `bucket` where the manifest has it).
        present: every file path (repo-relative) found at the destination, listed or not.
        curriculum_buckets: the manifest's rows per bucket (token limit -> rows).
    """
    if not isinstance(configs, list) or not configs:
        return ["card: no `configs` in the front matter; the loader would read every data file it finds"], 0
    listed = {s["path"]: s for s in shards}
    files = set(present) | set(listed)
    problems: list[str] = []
    names = []
    for config in configs:
        name = config.get("config_name", "default") if isinstance(config, dict) else None
        if name is None:
            problems.append(f"card: config entry {config!r} is not a mapping")
            continue
        names.append(name)
        covered: set[str] = set()
        patterns = list(_patterns(config.get("data_files")))
        if not patterns:
            problems.append(f"config {name}: no data_files")
        for pattern in patterns:
            regex = glob_regex(pattern)
            matched = {f for f in files if regex.fullmatch(f)}
            if not matched:
                problems.append(f"config {name}: data_files {pattern!r} matches no file")
            for path in sorted(matched - set(listed)):
                problems.append(f"config {name}: data_files {pattern!r} matches {path}, which the manifest "
                                "does not list")
            covered |= matched & set(listed)
        problems += _coverage(name, covered, listed, curriculum_buckets)
    if "default" not in names:
        problems.append("card: no `default` config")
    if all(s.get("bucket") is not None for s in shards):
        total = 0
        for limit, rows in sorted((int(b), n) for b, n in curriculum_buckets.items()):
            total += rows
            if total and config_name(limit) not in names:
                problems.append(f"card: no `{config_name(limit)}` config, though {total} rows fit in {limit} tokens")
    return problems, len(names)


def _coverage(name: str, covered: set[str], listed: dict[str, dict], buckets: dict[str, int]) -> list[str]:
    """What a `default` or `leNk` config must cover, against what it does."""
    if not any(listed[p]["rows"] for p in covered):
        return [f"config {name}: covers no row, and `datasets` cannot load a config without rows"]
    if name == "default":
        return [f"config default: leaves out shard {p}" for p in sorted(set(listed) - covered)]
    m = _LE.fullmatch(name)
    if not m:
        return []
    limit = int(m.group(1)) * 1024
    unbucketed = sorted(p for p, s in listed.items() if s.get("bucket") is None)
    if unbucketed:
        return [f"config {name}: shard {unbucketed[0]} has no `bucket` in the manifest, so the config cannot "
                "be checked" + (f" ({len(unbucketed) - 1} more like it)" if len(unbucketed) > 1 else "")]
    want = {p for p, s in listed.items() if s["bucket"] <= limit}
    out = [f"config {name}: leaves out shard {p} (bucket {listed[p]['bucket']})" for p in sorted(want - covered)]
    out += [f"config {name}: covers shard {p} of bucket {listed[p]['bucket']} > {limit}"
            for p in sorted(covered - want)]
    rows = sum(listed[p]["rows"] for p in covered)
    expected = sum(n for b, n in buckets.items() if int(b) <= limit)
    if rows != expected:
        out.append(f"config {name}: covers {rows} rows; the manifest's curriculum_buckets up to {limit} hold "
                   f"{expected}")
    return out
