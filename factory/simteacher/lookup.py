"""Which known problem a prompt wraps, whatever template surrounds it (for the simulated teacher)."""

from __future__ import annotations

import re

_CACHE_MAX = 50_000
_MAX_CHUNKS = 16  # paragraph/line ranges are tried only when a message has at most this many
_BLANK_LINE = re.compile(r"\n\s*\n")


def _norm(text: str) -> str:
    return " ".join(text.split())


def approx_tokens(chars: int) -> int:
    """Approximate token count of a text of `chars` characters (chars / 4, rounded up)."""
    return (chars + 3) // 4


class ProblemIndex:
    """Finds which known problem a prompt wraps, whatever template surrounds it.

    Tries the whole message, then every contiguous range of its paragraphs and of its lines, and
    finally scans for the longest known problem contained in it. Results are cached per message
    because a run sends each prompt n times or more.
    """

    def __init__(self, answers: dict[str, str]):
        self._answers = {_norm(k): v for k, v in answers.items() if _norm(k)}
        self._longest_first: list[str] | None = None  # built on the first fallback scan only
        self._cache: dict[str, tuple[str, str | None]] = {}

    def lookup(self, message: str) -> tuple[str, str | None]:
        """Return (problem key, reference answer or None when the problem is unknown)."""
        hit = self._cache.get(message)
        if hit is None:
            hit = self._find(message)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[message] = hit
        return hit

    def _find(self, message: str) -> tuple[str, str | None]:
        whole = _norm(message)
        if not self._answers:
            return whole, None
        if whole in self._answers:
            return whole, self._answers[whole]
        for parts in (_BLANK_LINE.split(message), message.splitlines()):
            parts = [_norm(p) for p in parts]
            if 1 < len(parts) <= _MAX_CHUNKS:
                for i in range(len(parts)):
                    for j in range(len(parts), i, -1):
                        key = " ".join(p for p in parts[i:j] if p)
                        if key in self._answers:
                            return key, self._answers[key]
        if self._longest_first is None:
            self._longest_first = sorted(self._answers, key=len, reverse=True)
        for key in self._longest_first:  # longest first, so a problem wins over a sub-phrase of it
            if key in whole:
                return key, self._answers[key]
        return whole, None
