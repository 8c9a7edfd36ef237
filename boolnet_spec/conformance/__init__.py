"""The conformance kit as a pytest test package: ``pytest --pyargs boolnet_spec.conformance
--boolnet-impl=pkg.module:factory`` (or ``--boolnet-impl-cmd="./impl {case} {out}"``) collects one
test per case of the shipped suite (``vectors/``). The engine is
:mod:`boolnet_spec.equivalence.conformance`; the options come from the ``pytest11`` plugin
:mod:`boolnet_spec.conformance.plugin`."""
