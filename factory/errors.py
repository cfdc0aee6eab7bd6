"""One error hierarchy for the factory.

`FactoryError` is the root. `TerminalError` means retrying cannot help (bad config, missing file, a
4xx from the teacher); `TransientError` means the same call may succeed later (429, 5xx, timeouts).
The CLI turns any `FactoryError` into one line on stderr and exit code 1, so every message must quote
the bad value and say how to fix it.
"""


class FactoryError(Exception):
    """Root of every error the factory raises on purpose."""


class TerminalError(FactoryError):
    """A failure that retrying will not fix."""


class TransientError(FactoryError):
    """A failure that may go away if the same thing is tried again."""


class ConfigError(TerminalError):
    """The pipeline file or a command-line flag is invalid."""


class SourceError(TerminalError):
    """A problem source cannot be read (missing file, unknown field, unreachable dataset)."""


class TeacherUnreachable(TerminalError):
    """The teacher endpoint cannot be reached at all before the run starts."""


class EndpointRefused(TerminalError):
    """The teacher refuses every request alike (bad key, wrong URL path, unknown model): stop the run."""


class RunDirError(TerminalError):
    """The run directory is unusable (written by a different pipeline, corrupt, locked)."""
