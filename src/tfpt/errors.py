"""The errors tfpt shows as one line, ``tfpt <command>: error: ...``, instead of a traceback.

Every error that means bad input, a bad file or an unlucky machine derives from
:class:`TfptError`; the CLI prints its message and exits with its ``exit_code``
(2 unless the error says otherwise). Anything else is a real bug and keeps its
traceback. This module imports nothing, so every part of tfpt can use it.
"""

from __future__ import annotations


class TfptError(Exception):
    """Base of the errors the CLI prints as one line; ``exit_code`` is the status to exit with."""

    exit_code = 2


class UsageError(TfptError, ValueError):
    """A problem with the command's input (a flag, a path, a resume that does not fit)."""


class OutputError(TfptError, OSError):
    """``--out`` cannot be written (full disk, read-only, no permission); earlier files are intact."""


class DivergedError(TfptError, ArithmeticError):
    """The loss became NaN or infinite; ``last.*`` keeps the last finite epoch."""


class LockedError(UsageError):
    """Another live run holds the output folder's lock."""


__all__ = ["DivergedError", "LockedError", "OutputError", "TfptError", "UsageError"]
