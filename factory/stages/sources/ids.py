"""Problem ids: a hash of the stored text, lightly normalized, so ids are stable across runs and sources.

Ids are deliberately not derived from the matching form (`canonical`): a sample's id hashes its problem id,
so changing how copies are matched must never change which samples a run has already paid for.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """The form ids hash: NFKC, collapsed whitespace, stripped."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def problem_id(text: str) -> str:
    """Stable id of a problem: sha256 of its normalized text (first 16 hex digits)."""
    return hashlib.sha256(normalize_text(text).encode()).hexdigest()[:16]
