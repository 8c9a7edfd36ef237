"""Build ``bn_datapath`` with Icarus Verilog for one PE x SIMD folding and run the cocotb
testbench; return the JSON results (compared cases and measured cycles).

    python -m boolnet_spec.equivalence.rtl.runner --pe 4 --simd 8
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HDL = HERE / "hdl"
SOURCES = ["bn_mvu.v", "bn_threshold.v", "bn_pool.v", "bn_logic.v", "bn_datapath.v"]
FOLDINGS = [(4, 8), (8, 64)]
"""The PE x SIMD foldings the tests run (MVU-3)."""
INSTALL = "apt-get update && apt-get install -y iverilog"
TESTS = ["bconv_cases", "threshold_cases", "maxpool_cases", "logic_cases", "block_case"]
"""The cocotb tests of a folding run; ``overflow_case`` runs in its own narrow build."""


def simulator_missing() -> str | None:
    """None when Icarus Verilog is on PATH, else the command that installs it."""
    if shutil.which("iverilog") and shutil.which("vvp"):
        return None
    return INSTALL


OVERFLOW = (4, 8, 4)
"""PE, SIMD and a too narrow accumulator for the ACCW-1 overflow test (4 bits: the d of
bconv/slices-groups1, n = 36, reach 27)."""


def run(pe: int, simd: int, build_root: Path, testcase: str | None = None,
        acc_bits: int = 16) -> dict:
    from cocotb_tools.runner import get_results, get_runner

    build_dir = Path(build_root) / f"pe{pe}-simd{simd}-acc{acc_bits}"
    build_dir.mkdir(parents=True, exist_ok=True)
    results = build_dir / "results.json"
    results.unlink(missing_ok=True)
    runner = get_runner("icarus")
    runner.build(sources=[HDL / name for name in SOURCES], hdl_toplevel="bn_datapath",
                 parameters={"PE": pe, "SIMD": simd, "ACC_BITS": acc_bits}, build_dir=build_dir,
                 build_args=["-g2005"], always=True, log_file=build_dir / "build.log")
    xml = runner.test(hdl_toplevel="bn_datapath", test_module="tb_datapath", test_dir=HERE,
                      build_dir=build_dir, testcase=testcase or TESTS,
                      extra_env={"BN_RTL_PE": str(pe), "BN_RTL_SIMD": str(simd),
                                 "BN_RTL_ACC_BITS": str(acc_bits),
                                 "BN_RTL_RESULTS": str(results)},
                      results_xml=str(build_dir / "results.xml"),
                      log_file=build_dir / "sim.log")
    tests, failed = get_results(xml)
    data = json.loads(results.read_text()) if results.exists() else {"cases": [], "cycles": []}
    data.update({"pe": pe, "simd": simd, "acc_bits": acc_bits, "tests": tests, "failed": failed,
                 "log": str(build_dir / "sim.log")})
    return data


def summary(data: dict) -> str:
    lines = [f"PE={data['pe']} SIMD={data['simd']} ACC_BITS={data['acc_bits']}: "
             f"{data['tests']} cocotb tests, "
             f"{data['failed']} failed"]
    for case in data["cases"]:
        lines.append(f"  {'PASS' if case['pass'] else 'FAIL'} {case['id']} [{case['unit']}] "
                     f"{case['words']} words, {case['mismatches']} differ")
    for row in data["cycles"]:
        lines.append(f"  cycles {row['layer']:22s} busy {row['busy']:7d} measured "
                     f"{row['measured']:7d} model {row['model']:7d} ratio {row['ratio']:.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pe", type=int, action="append")
    parser.add_argument("--simd", type=int, action="append")
    parser.add_argument("--build", default="build/rtl")
    parser.add_argument("--testcase")
    args = parser.parse_args(argv)
    if simulator_missing():
        print(f"iverilog not found; install it with: {INSTALL}", file=sys.stderr)
        return 2
    foldings = list(zip(args.pe, args.simd, strict=True)) if args.pe else FOLDINGS
    status = 0
    runs = [(pe, simd, 16, args.testcase) for pe, simd in foldings]
    if not args.pe and not args.testcase:
        runs.append((*OVERFLOW, "overflow_case"))
    for pe, simd, acc_bits, testcase in runs:
        data = run(pe, simd, Path(args.build), testcase, acc_bits)
        print(summary(data))
        status |= bool(data["failed"]) or not all(c["pass"] for c in data["cases"])
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
