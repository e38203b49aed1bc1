"""Errors a user can fix, as opposed to bugs.

The command line prints these as one line naming the problem and the fix, and exits with status 2;
any other exception is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """A parameter, file or argument that si_recsim refuses; the message names it and the fix."""


class SetupError(RuntimeError):
    """A run that cannot proceed with these inputs or this environment (a missing tool, no template
    reaching the amplitude threshold, a cell model that does not fire); the message says what to change."""
