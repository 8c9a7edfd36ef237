"""An independent re-implementation of BoolNet's binary layers as an accelerator datapath.

Every binary layer runs on 64-bit packed words (XNOR-popcount, threshold comparisons, gates, bit
permutations) and is checked bit for bit against the reference; only the real-valued stem and
head call the reference. :mod:`boolnet_spec.equivalence.datapath.machine` executes a reference
model file;
:mod:`boolnet_spec.equivalence.datapath.counters` counts its cycles, memory traffic, operations and
energy.
"""
