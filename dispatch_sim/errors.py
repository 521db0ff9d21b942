"""User-facing errors.

Every problem a planner can cause (a wrong scenario value, a missing file, no network) is raised as a
:class:`DispatchSimError`. The CLI turns it into one clear line and exit code 2, never a traceback. Any
other exception is a bug: the CLI prints one line saying so, writes the traceback to a log file and
exits 3 (see ``docs/inputs.md``). Allowed-but-suspicious input is an :class:`InputWarning`.
"""

from __future__ import annotations


class DispatchSimError(Exception):
    """A problem with the user's input or environment, with a message that says what to do."""

    exit_code = 2


class ScenarioError(DispatchSimError):
    """One or more problems in a scenario file.

    Parameters
    ----------
    problems
        One line per problem, each ``file: field: message``.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class GraphSourceError(DispatchSimError):
    """A road graph could not be obtained from the requested source."""


class OutsideGraphError(DispatchSimError):
    """A point lies outside the extent of the road graph."""


class InputWarning(UserWarning):
    """Something in the input that is allowed but probably not meant (an uncovered hour in a shift
    plan, shares that do not sum to 1). The CLI prints it as ``warning: file: field: message``."""

