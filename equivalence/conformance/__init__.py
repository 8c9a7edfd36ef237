"""Conformance kit: golden vectors, and the one engine that checks any BoolNet implementation
against them, exactly on every bit and integer and within a stated bound only where float meets
integer.

.. req:: KIT-1

   A suite is a directory with ``MANIFEST.json`` (``format = "boolnet-spec-suite"``, the suite
   and spec versions, and the sha256 of every other file) and one directory per case. A case
   directory holds ``desc.json`` (``format = "boolnet-spec-case"``: ``id`` of the form
   ``op/case``, ``op``, ``function``, ``labels``, ``inputs``, ``attrs``, ``args`` and
   ``outputs``, each output with its ``dtype``, ``shape`` and ``compare`` mode), its inputs under
   ``inputs/`` and its expected outputs under ``expected/``, every array a plain npy v1 file
   (little-endian, C order, bits as ``uint8`` 0/1). A network case adds the model file
   ``model.bsm`` (stored, not deflated), the same model unpacked (``model/graph.json`` and
   ``model/arrays/NAME.npy``) and the float state dict in the authors' layout
   (``state_dict/KEY.npy``). ``ERROR_IF`` a manifest or descriptor is malformed, a listed file is
   missing or its hash differs (:class:`~boolnet_spec.reference.errors.FormatError` naming the file
   and the field).
   In ``desc.json``, ``attrs`` and ``args`` use the names of the reference function's parameters
   (``pad_bits`` has ``mode``, the convolutions ``pad_mode``); ``objects`` holds composite
   arguments whose ``arrays`` map each role to the name of an entry of ``inputs``, not to a file,
   and whose numbers (threshold units' ``n``, BatchNorm ``eps``) are JSON numbers, ``eps`` read as
   binary64 (BN-1). A network case's one input, ``images``, is the graph's input ``image`` (NET-1).

.. req:: KIT-2

   Comparison modes. ``exact``: the output has the expected dtype and shape and every element is
   equal; ``bounded``: the output has the expected shape, is finite, and
   ``|actual - expected| <= bound`` elementwise, with the bound array stored beside the expected
   output (``NAME.bound.npy``) and ``how`` saying how it was derived. Bits and integers are always
   ``exact``; no tolerance ever applies to them. A failure names the case, the op, its labels,
   the first differing element (coordinates, expected, actual) and the number of differing
   elements.
   Bits that follow a float evaluation in an implementation-defined order (the stem's bits, STEM-2)
   are compared exactly too, which is fair because the generator keeps only images whose stem
   pre-activations lie farther than their float bound from every slice offset: it leaves out the
   others and refuses (``ERROR_IF``, :class:`~boolnet_spec.reference.errors.DomainError`) when no
   image is left.

.. req:: KIT-3

   Outcomes. A case is ``passed`` only when every required output was produced and compared
   equal; ``failed`` when an output is wrong, missing, misnamed, of another dtype or shape, or
   the implementation failed, timed out or wrote nothing; ``not_run`` when the implementation does
   not provide the case's function. ``not_run`` is never counted as passed. Network cases require
   only ``logits``; every other traced tensor the implementation writes is compared, and one it
   does not write is reported as not run.
   An op case whose implementation writes an output that ``desc.json`` does not declare fails; a
   network case ignores names outside its ``tensor_order``.

.. req:: KIT-4

   Python plug-in: ``--boolnet-impl=pkg.module:factory`` or ``BOOLNET_SPEC_IMPL``. The factory
   returns an object with any subset of the public functions of the reference's op modules (same
   names, parameters and dtypes: the reference is itself an adapter) and/or
   ``run(model_path, images) -> {tensor name: array}``.

.. req:: KIT-5

   Command plug-in: ``--boolnet-impl-cmd="./impl {case} {out}"`` or ``BOOLNET_SPEC_IMPL_CMD``.
   The command reads the case directory and writes one npy file per output into ``{out}``, named
   as in ``desc.json``; with ``--packed`` bit outputs of network cases may be written as 64-bit
   words in the datapath layout (PACK-1 to PACK-3). A command that runs longer than its per-case
   timeout is stopped and the case fails.
   Exit 77 means the command does not implement the case's function (``not_run``); any other
   non-zero exit fails the case, and the last line of its stderr is the reason. A malformed case or
   model is such a failure: like ``boolnet-spec`` (ERR-3), a command reports it as one line on
   stderr and exits 2.

.. req:: KIT-6

   Expected failures: an xfail file lists case ids or requirement labels, one per line (``#``
   comments). It is strict: a listed case that passes fails the run. ``ERROR_IF`` a line names no
   case and no label of the suite (:class:`~boolnet_spec.reference.errors.FormatError`).

.. req:: KIT-7

   Reports: the JSON report holds the suite and spec versions, one row per case (id, op, labels,
   outcome, reason) and a summary per requirement label (passed, failed, not run).

.. req:: KIT-8

   Generation is byte-deterministic: the same spec version writes the same files, bytes and
   hashes; npy members are never compressed, so the hashes do not depend on a zlib version.

.. req:: KIT-9

   Trace check: a whole trace of a model on images is compared tensor by tensor in node order;
   the report gives counts per tensor, the first divergent tensor and its first differing
   element, and the result of re-running that node of the reference on the implementation's own
   inputs, which tells "this node is wrong" from "an earlier divergence propagated".
"""

SUITE_FORMAT = "boolnet-spec-suite"
CASE_FORMAT = "boolnet-spec-case"
SUITE_VERSION = "1"
"""Suites, xfail files and reports of one suite version are compatible: cases keep their ids and
meanings within a suite version; a new case or a changed expectation bumps it."""

__all__ = ["SUITE_FORMAT", "CASE_FORMAT", "SUITE_VERSION"]
