"""The RTL datapath (equivalence/rtl, issue 16 part 2): Icarus Verilog through cocotb, the kit's
per-op cases and a BoolNet block, word for word, at two PE x SIMD foldings; its measured cycles
against the datapath model's cost cycles (COST-4); an ACCW-1 overflow flagged, never wrapped.

Outside CI the tests skip when Icarus Verilog or cocotb is missing, naming the command to run;
under ``CI=true`` they fail instead.
"""

import importlib.util
import os

import pytest

from boolnet_spec.equivalence.rtl import runner, stimuli

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(what: str, command: str) -> None:
    message = f"{what} is missing; install it with: {command}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def simulator():
    if importlib.util.find_spec("cocotb") is None:
        _need("cocotb", "pip install -c constraints.txt -e '.[rtl]'")
    if runner.simulator_missing():
        _need("Icarus Verilog (iverilog)", runner.INSTALL)


EXPECTED = [*[c for unit in ("bconv", "threshold", "maxpool", "logic")
              for c in stimuli.OP_CASES[unit]],
            *[f"{stimuli.BLOCK_NETWORK}:{name}" for name in (
                "layer1.0.conv1", "layer1.0.ghostsign1", "layer1.0.xnor", "layer1.0.conv2",
                "layer1.0.ghostsign2", "layer1.0.or", "layer2.0.downsample.0",
                "layer2.0.downsample")]]
BLOCK_LAYERS = ["layer1.0.conv1", "layer1.0.xnor", "layer1.0.conv2", "layer1.0.or",
                "layer2.0.downsample"]


@pytest.mark.req("MVU-1", "MVU-2", "MVU-3", "THU-1", "THU-2", "THU-3", "POOLU-1", "POOLU-2",
                 "LOGU-1", "LOGU-2", "COST-4")
@pytest.mark.parametrize(("pe", "simd"), runner.FOLDINGS, ids=lambda v: str(v))
def test_rtl_datapath_matches_the_kit_at_a_folding(simulator, tmp_path, pe, simd):
    data = runner.run(pe, simd, tmp_path)
    print(runner.summary(data))
    assert data["tests"] == 5 and data["failed"] == 0, f"cocotb failures, see {data['log']}"
    cases = {case["id"]: case for case in data["cases"]}
    assert sorted(cases) == sorted(EXPECTED)
    failed = [(c["id"], c["mismatches"]) for c in data["cases"] if not c["pass"]]
    assert failed == []
    assert all(c["words"] > 0 for c in data["cases"])
    # The MVU issues exactly the model's folds (MVU-3, COST-4) ...
    for case_id in stimuli.OP_CASES["bconv"]:
        assert cases[case_id]["busy_cycles"] == cases[case_id]["model_cycles"], case_id
    rows = {row["layer"]: row for row in data["cycles"]}
    assert sorted(rows) == sorted(BLOCK_LAYERS)
    for row in rows.values():
        assert row["busy"] == row["model"], row
        # ... and adds only its pipeline latency: the window register, the threshold register
        # and the pooling register (docs/adopter-rtl.rst).
        latency = {"bconv": 2, "xnor": 0, "or": 0}[row["op"]]
        latency += row["layer"] == "layer2.0.downsample"
        assert row["measured"] == row["model"] + latency, row


@pytest.mark.req("ACCW-1", "ACCW-2")
def test_rtl_accumulator_overflow_is_flagged_never_wrapped(simulator, tmp_path):
    pe, simd, acc_bits = runner.OVERFLOW
    data = runner.run(pe, simd, tmp_path, "overflow_case", acc_bits)
    print(runner.summary(data))
    assert data["tests"] == 1 and data["failed"] == 0, f"cocotb failures, see {data['log']}"
    [case] = data["cases"]
    assert case["pass"] and case["acc_bits"] == acc_bits
    # A 4-bit accumulator is below ACCW-2's minimal width 6 for n = 36: some d overflow.
    assert 0 < case["flagged"] < case["words"]
