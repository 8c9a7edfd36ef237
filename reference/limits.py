"""Limits: every size, count and number that an input can ask for, in one place.

A limit is checked when the value is read, from a file or from the command line, before any
memory is allocated for it or any loop runs over it. A value beyond its limit is a
:class:`~boolnet_spec.reference.errors.BoundError` (exit 2) naming the file or option, the field,
the limit and the value.

.. req:: LIMIT-1

   Sizes and counts. ``ERROR_IF`` one of these exceeds its limit
   (:class:`~boolnet_spec.reference.errors.BoundError`); where it is read from is in brackets:

   - ``MAX_IMAGES`` = 65536: images in a batch ``N`` (``--input``, ``--samples``);
   - ``MAX_CLASSES`` = 65536: classes (the header, ``--classes``, ``fc.weight``);
   - ``MAX_SLICES`` = 64: slices ``S`` (the header, ``--slices``, ``--offsets``);
   - ``MAX_WIDTH`` = 8192: the width of a stage, channels per slice (the header, ``--widths``,
     a checkpoint's shapes);
   - ``MAX_STAGES`` = 16: stages (the header, ``--widths``, a checkpoint's ``layerL`` keys);
   - ``MAX_BLOCKS`` = 64: blocks per stage, and a block index plus one (the header,
     ``--blocks``, a checkpoint's ``layerL.b`` keys);
   - ``MAX_IMAGE_SIZE`` = 4096: the image size ``H = W`` (the header, ``--image-size``);
   - ``MAX_CONV_ATTR`` = 64: a node's stride, padding, dilation and pooling (its groups are
     bounded by its channels);
   - ``MAX_ACTIVATIONS`` = 2**28: activation elements of one image,
     ``S * 2 * max(widths) * Hs * Ws`` with ``Hs = Ws`` the stem's output size;
   - ``MAX_BATCH_ELEMENTS`` = 2**31: elements of the largest tensor of a batch, ``N`` times its
     elements per image (``run``, ``datapath``);
   - ``MAX_PARAMETERS`` = 2**28: the parameters of a configuration, bounded by
     ``B * (29 + 2*S) * W**2 + (K + 256) * W`` with ``B`` blocks, ``W = max(widths)`` and ``K``
     classes;
   - ``MAX_TIMEOUT_SECONDS`` = 3600: one z3 query (``--timeout``, which must also be finite
     and positive);
   - ``MAX_SEED`` = 2**32 - 1: a seed, at least 0 (``--seed``);
   - ``MAX_LISTED`` = 2**20: disagreements listed (``--limit``, at least 0);
   - ``MAX_EPOCHS`` = 10000: training epochs (``--epochs``, at least 1);
   - ``MAX_PE`` = 65536: PE rows and SIMD bits (``--pe``, ``--simd``).

   Counters of work and size (bits, units, cycles, operations) are Python integers, never
   fixed-width, so a reported number is never wrapped.

.. req:: LIMIT-2

   Files. Every input file is capped before it is decoded: the arrays of an ``.npz`` model or
   state dict, of a ``.pth`` (a ZIP archive: the uncompressed sizes of its central directory) and
   of a ``.safetensors`` or ``.npy`` file may hold at most ``MAX_INPUT_BYTES`` = 4 GiB, checked
   from the ZIP directory or the file size and the ``.npy`` header before anything is
   decompressed or allocated; a text input (a model's JSON header, an energy table, a variant
   file) at most ``MAX_TEXT_BYTES`` = 16 MiB. A ``.npy`` header must declare exactly the data
   bytes its file holds.

.. req:: LIMIT-3

   Numbers and nesting. JSON is scanned before it is parsed: ``ERROR_IF`` it nests arrays and
   objects deeper than ``MAX_JSON_DEPTH`` = 32, or a number literal is longer than
   ``MAX_NUMBER_CHARS`` = 64 characters (:class:`~boolnet_spec.reference.errors.FormatError`).
   A decimal on the command line longer than ``MAX_NUMBER_CHARS`` is a
   :class:`~boolnet_spec.reference.errors.BoundError`, and one whose magnitude is at least
   ``10**39`` lies outside float32's range and is a
   :class:`~boolnet_spec.reference.errors.NonFiniteError`, both decided from its digits and
   exponent before it is expanded exactly; one below ``10**-60`` rounds to a signed zero.
"""

from __future__ import annotations

from boolnet_spec.reference.errors import BoundError, DomainError, error_if

__all__ = ["MAX_INPUT_BYTES", "MAX_TEXT_BYTES", "MAX_JSON_DEPTH", "MAX_NUMBER_CHARS",
           "MAX_IMAGES", "MAX_CLASSES", "MAX_SLICES", "MAX_WIDTH", "MAX_STAGES", "MAX_BLOCKS",
           "MAX_IMAGE_SIZE", "MAX_CONV_ATTR", "MAX_ACTIVATIONS", "MAX_BATCH_ELEMENTS",
           "MAX_PARAMETERS", "MAX_TIMEOUT_SECONDS", "MAX_SEED", "MAX_LISTED", "MAX_EPOCHS",
           "MAX_PE", "check_limit", "check_count", "check_seed"]

MAX_INPUT_BYTES = 4 << 30
MAX_TEXT_BYTES = 16 << 20
MAX_JSON_DEPTH = 32
MAX_NUMBER_CHARS = 64
MAX_IMAGES = 1 << 16
MAX_CLASSES = 1 << 16
MAX_SLICES = 64
MAX_WIDTH = 1 << 13
MAX_STAGES = 16
MAX_BLOCKS = 64
MAX_IMAGE_SIZE = 1 << 12
MAX_CONV_ATTR = 64
MAX_ACTIVATIONS = 1 << 28
MAX_BATCH_ELEMENTS = 1 << 31
MAX_PARAMETERS = 1 << 28
MAX_TIMEOUT_SECONDS = 3600.0
MAX_SEED = (1 << 32) - 1
MAX_LISTED = 1 << 20
MAX_EPOCHS = 10_000
MAX_PE = 1 << 16


def check_limit(value: int, limit: int, what: str, label: str = "LIMIT-1") -> int:
    """``value`` itself, after ``ERROR_IF value > limit`` (a BoundError)."""
    error_if(value > limit, BoundError, what, f"at most {limit} (the limit of {label})",
             value, label)
    return value


def check_count(value: object, limit: int, what: str, label: str = "LIMIT-1",
                minimum: int = 1) -> int:
    """An integer (never a bool) in ``[minimum, limit]``: a DomainError below, a BoundError
    above."""
    error_if(not isinstance(value, int) or isinstance(value, bool), DomainError, what,
             "an integer", repr(value), label)
    error_if(value < minimum, DomainError, what, f"an integer >= {minimum}", value, label)
    return check_limit(value, limit, what, label)


def check_seed(seed: object, what: str = "--seed") -> int:
    """A seed in ``[0, MAX_SEED]`` (LIMIT-1)."""
    return check_count(seed, MAX_SEED, what, "LIMIT-1", minimum=0)
