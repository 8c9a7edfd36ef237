"""An RTL implementation of the binary datapath of one BoolNet block (Verilog, in ``hdl/``).

The matrix-vector unit (MVU-1 to MVU-3, ACCW-1), the threshold unit (THU-1 to THU-3), the
pooling unit (POOLU-1, POOLU-2) and the logic unit (LOGU-1, LOGU-2), simulated with Icarus
Verilog through cocotb against the conformance kit's cases (``tb_datapath.py``, run by
``runner.py``). See ``docs/adopter-rtl.rst``.
"""
