"""Status lines for the person watching a run."""

import sys


def log(line: str) -> None:
    """A status line: on stderr, so stdout stays for results."""
    print(line, file=sys.stderr, flush=True)
