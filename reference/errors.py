"""Errors: one typed exception per class of invalid input.

.. req:: ERR-1

   Every ``ERROR_IF`` of the specification raises a subclass of :class:`SpecError` *before* any
   output is computed. The message names the tensor, the bound that was violated and the offending
   value, and ends with the requirement label that the check enforces.

.. req:: ERR-2

   The classes are disjoint by cause: :class:`DTypeError` (wrong dtype), :class:`ShapeError`
   (wrong rank, mismatched or empty shapes), :class:`NonBinaryError` (a value outside the bit
   alphabet, including the ternary 0 of ``torch.sign``), :class:`NonFiniteError` (NaN or
   infinity where a finite number is required), :class:`DomainError` (a finite value outside its
   admissible set, e.g. ``var + eps <= 0``), :class:`BoundError` (a size beyond an implementation
   bound, e.g. the Int16 accumulator bound) and :class:`FormatError` (a malformed file).
   :class:`UsageError` is a command line that asks for something impossible (conflicting or
   unknown options); :class:`InternalError` is a failed self-check of this suite, never the
   user's fault.

.. req:: ERR-3

   Exit codes, the same for every ``boolnet-spec`` command:

   - ``0``: everything holds;
   - ``1``: a finding: a mismatch, a counterexample, ``not-foldable``, ``unknown`` or an unproved
     theorem, or a failed conformance case (an implementation that wrote a wrong or missing
     output included);
   - ``2``: bad input or usage (every :class:`SpecError`), as one line on stderr;
   - ``3``: an internal error (:class:`InternalError` or any unexpected exception), with a hint
     to report it.

.. req:: ERR-4

   A check costs nothing when it passes: :func:`error_if` evaluates a message part that is a
   callable only when the condition holds.

.. req:: ERR-5

   One error boundary per command. Any failure while reading an input, whether the file cannot
   be opened (an OS error), a compressed member does not inflate, its JSON does not parse, a
   number does not convert or user code in a variant file raises, becomes the typed error of its
   class (:class:`FormatError` for a malformed or unreadable file, :class:`BoundError` for a
   limit of LIMIT-1 to LIMIT-3), printed as one stderr line naming the file, the field and the
   value, with exit 2, before any output is written. An unwritable output location is a
   :class:`DomainError` naming the option and the path. Every other exception is a bug of this
   suite: exit 3 with a hint to report it (ERR-3). A batch of zero images is a
   :class:`ShapeError` in every command that reads images.

.. req:: ERR-6

   Outputs are all-or-nothing, through one writer (``write_outputs`` of
   ``boolnet_spec.reference.safe_io``). Every output path of a command is
   checked before any work: its directory exists and accepts a new file, it is not a directory,
   and no two outputs of one command share a path. Every output is written to a temporary file
   beside its destination, and the temporary files are renamed onto their destinations only
   when every one of them is complete; a failure before that removes them all and leaves every
   destination as it was. A command with two outputs writes both or neither. Every output file
   gets the same mode, ``0o666`` masked by the process's umask.
"""

from __future__ import annotations

import types

import numpy as np

__all__ = [
    "SpecError",
    "DTypeError",
    "ShapeError",
    "NonBinaryError",
    "NonFiniteError",
    "DomainError",
    "BoundError",
    "FormatError",
    "UsageError",
    "InternalError",
    "EXIT_OK",
    "EXIT_FINDING",
    "EXIT_INPUT",
    "EXIT_INTERNAL",
    "error_if",
    "describe",
]


class SpecError(ValueError):
    """Base class of every specification error.

    Attributes ``tensor``, ``bound``, ``value`` and ``label`` carry the parts of the message.
    """

    def __init__(self, tensor: str, bound: str, value: object, label: str):
        self.tensor = tensor
        self.bound = bound
        self.value = value
        self.label = label
        super().__init__(f"{tensor}: expected {bound}, got {value} [{label}]")


class DTypeError(SpecError, TypeError):
    """A tensor has the wrong dtype."""


class ShapeError(SpecError):
    """A tensor has the wrong rank or a shape that does not match its partner."""


class NonBinaryError(SpecError):
    """A bit tensor holds a value other than 0 or 1, or a +-1 tensor a value other than -1 or +1."""


class NonFiniteError(SpecError):
    """A NaN or an infinity where a finite number is required."""


class DomainError(SpecError):
    """A finite value outside its admissible set."""


class BoundError(SpecError):
    """A size outside the bounds the integer datapath supports."""


class FormatError(SpecError):
    """A model or parameter file that is malformed, truncated or not what it claims to be."""


class UsageError(SpecError):
    """A command line that asks for something impossible: conflicting or unknown options."""


class InternalError(RuntimeError):
    """A self-check of this suite failed: a bug in boolnet-spec, not in the input (ERR-3)."""

    def __init__(self, what: str):
        super().__init__(f"internal error: {what}; please report it to the boolnet-spec "
                         "maintainers with the command that produced it")


EXIT_OK, EXIT_FINDING, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def error_if(condition: bool, error: type[SpecError], tensor: str, bound: str, value: object,
             label: str) -> None:
    """TOSA's ``ERROR_IF``: raise ``error`` when ``condition`` holds.

    ``bound`` and ``value`` may be zero-argument callables, evaluated only then (ERR-4)."""
    if condition:
        lazy = types.FunctionType
        raise error(tensor, bound() if isinstance(bound, lazy) else bound,
                    value() if isinstance(value, lazy) else value, label)


def describe(array: np.ndarray, mask: np.ndarray) -> str:
    """The first offending element of ``array`` where ``mask`` is set, with its index and count."""
    bad = np.argwhere(mask)
    index = tuple(int(i) for i in bad[0])
    return f"{array[index].item()!r} at index {list(index)} ({len(bad)} element(s))"
