"""One error hierarchy for the factory.

`FactoryError` is the root; `TerminalError` and its subclasses mean running the same command again
will not help until something is fixed (bad config, missing file, a teacher that refuses us), and a
plain `FactoryError` is a bad request of the moment (an audit query that fails). Transient failures
(429, 5xx, timeouts) are not exceptions here: the teacher client retries them, and one that outlasts
its retries becomes a sample's outcome (`failed`), never an error that stops a run. The CLI turns
any `FactoryError` into one line on stderr and exit code 1, so every message must quote the bad
value and say how to fix it.
"""


class FactoryError(Exception):
    """Root of every error the factory raises on purpose."""


class TerminalError(FactoryError):
    """A failure that retrying will not fix."""


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
