"""The ``datapath`` and ``cost`` commands of ``boolnet-spec``: run a model file on the packed
datapath, and count its cycles, traffic, operations and energy."""

from __future__ import annotations

import argparse
from pathlib import Path

from boolnet_spec.reference.commandline import (
    add_forward_arguments,
    check_output,
    format_table,
    forward_command,
    print_json,
)
from boolnet_spec.reference.errors import DomainError
from boolnet_spec.reference.limits import MAX_PE, check_limit

__all__ = ["register", "datapath_command", "cost_command", "COST_COLUMNS"]


def _check_machine(args: argparse.Namespace) -> None:
    """``--pe`` and ``--simd`` within LIMIT-1, before the model is read (MVU-3 checks the
    rest)."""
    check_limit(args.pe, MAX_PE, "--pe")
    check_limit(args.simd, MAX_PE, "--simd")


def datapath_command(args: argparse.Namespace) -> int:
    from boolnet_spec.equivalence.datapath.machine import Datapath

    _check_machine(args)

    def runner(model):
        return Datapath(model, pe=args.pe, simd=args.simd, acc_bits=args.acc_bits,
                        acc_signed=args.acc_signed).run

    return forward_command(args, "datapath", runner,
                           {"pe": args.pe, "simd": args.simd, "acc_bits": args.acc_bits,
                            "acc_signed": args.acc_signed})


COST_COLUMNS = (
    ("layer", 22, "layer"), ("op", 7, "op"), ("n", 5, lambda r: r["n"] or ""),
    ("acc", 3, lambda r: r["min_acc_bits"] or ""), ("BOPs", 11, lambda r: f"{r['bops']:.4g}"),
    ("FLOPs", 11, lambda r: f"{r['flops']:.4g}"), ("OPs", 11, lambda r: f"{r['ops']:.4g}"),
    ("cycles", 9, "cycles"), ("bits read", 12, "bits_read"),
    ("bits written", 12, "bits_written"),
    ("energy nJ", 10, lambda r: f"{r['energy_pj'] / 1e3:.1f}"))


def _paper_comparison(model, total: dict) -> dict | None:
    from boolnet_spec.equivalence.datapath.counters import PAPER
    from boolnet_spec.reference.architecture import CONFIGS

    name = model.architecture.name
    if CONFIGS.get(name) != model.architecture or name not in PAPER:
        return None
    return {key: {"paper": value, "ours": total[key], "difference": total[key] / value - 1}
            for key, value in PAPER[name].items() if key in ("bops", "flops", "ops")}


def _block(model, table) -> dict | None:
    """The Table 3 block of ``layer1.0.conv1`` against a 32-bit-shortcut block (COST-6, COST-7)."""
    from boolnet_spec.equivalence.datapath.counters import block_energy

    conv = "layer1.0.conv1"
    if not any(node.name == conv and node.op == "bconv" for node in model.nodes):
        return None
    ours, baseline = block_energy(model, conv, False, table), block_energy(model, conv, True, table)
    return {"conv": conv, "memory_bits": ours["memory_bits"],
            "baseline_memory_bits": baseline["memory_bits"], "energy_pj": ours["energy_pj"],
            "baseline_energy_pj": baseline["energy_pj"],
            "memory_ratio": ours["memory_bits"] / baseline["memory_bits"],
            "energy_ratio": ours["energy_pj"] / baseline["energy_pj"]
            if baseline["energy_pj"] else None}


def _save_plot(rows: list[dict], title: str, path: Path) -> None:
    """Energy and traffic per layer, as a PNG written atomically (MODEL-5)."""
    try:
        import matplotlib
    except ImportError:
        raise DomainError("--plot", "matplotlib installed (pip install 'boolnet-spec[plot]')",
                          "no module named matplotlib", "COST-7") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from boolnet_spec.reference.safe_io import write_atomic

    names = [row["layer"] for row in rows]
    x = range(len(rows))
    figure, (energy, traffic) = plt.subplots(2, 1, figsize=(max(8, 0.28 * len(rows)), 7),
                                             sharex=True)
    energy.bar(x, [row["energy_pj"] / 1e3 for row in rows], color="tab:red")
    energy.set_ylabel("energy (nJ)")
    energy.set_title(title)
    traffic.bar(x, [row["bits_read"] / 8e6 for row in rows], label="read", color="tab:blue")
    traffic.bar(x, [row["bits_written"] / 8e6 for row in rows],
                bottom=[row["bits_read"] / 8e6 for row in rows], label="written",
                color="tab:orange")
    traffic.set_ylabel("traffic (MB)")
    traffic.legend()
    traffic.set_xticks(list(x), names, rotation=90, fontsize=7)
    figure.tight_layout()
    try:
        write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=100))
    finally:
        plt.close(figure)


def cost_command(args: argparse.Namespace) -> int:
    from boolnet_spec.equivalence.datapath.counters import HOROWITZ_45NM, EnergyTable, model_costs
    from boolnet_spec.equivalence.datapath.mvu import MVUConfig
    from boolnet_spec.reference.modelfile import load_model

    _check_machine(args)
    plot = check_output(args.plot, "--plot") if args.plot else None
    config = MVUConfig(args.pe, args.simd)
    table = EnergyTable.from_json(args.energy) if args.energy else HOROWITZ_45NM
    model = load_model(args.model)
    costs = model_costs(model, config, table)
    arch = model.architecture
    paper = _paper_comparison(model, costs["total"])
    block = _block(model, table)
    if plot is not None:
        _save_plot(costs["layers"], f"{arch.name}: energy and traffic per layer (PE {args.pe}, "
                   f"SIMD {args.simd})", plot)
    if args.json:
        report = {"architecture": arch.to_json(), "pe": args.pe, "simd": args.simd,
                  "energy_table": table.to_json(), **costs}
        if paper is not None:
            report["paper"] = paper
        if block is not None:
            report["block"] = block
        print_json(report)
        return 0
    print(f"{arch.name}: PE {args.pe}, SIMD {args.simd}, energy constants: {table.source}")
    print(format_table([*costs["layers"], {**costs["total"], "layer": "total", "op": "",
                                           "n": "", "min_acc_bits": ""}], COST_COLUMNS))
    if paper is not None:
        print("against the paper: " + ", ".join(
            f"{key} {entry['ours']:.3g} vs {entry['paper']:.3g} ({entry['difference']:+.2%})"
            for key, entry in paper.items()))
    if block is not None:
        print(f"block {block['conv']} (Table 3): {block['memory_bits']:,} bits against "
              f"{block['baseline_memory_bits']:,} for a 32-bit-shortcut block "
              f"({block['memory_ratio']:.3f}); energy {block['energy_pj'] / 1e3:.1f} nJ against "
              f"{block['baseline_energy_pj'] / 1e3:.1f} nJ ("
              + (f"{block['energy_ratio']:.3f})" if block["energy_ratio"] is not None
                 else "no ratio: zero energy)"))
    if plot is not None:
        print(f"wrote {plot}")
    return 0


def register(commands) -> None:
    """Add ``datapath`` and ``cost`` to the ``boolnet-spec`` sub-command parser."""
    run = commands.add_parser(
        "datapath", help="run a model file on the packed accelerator datapath model",
        description="Execute a model file on 64-bit packed words (XNOR-popcount matrix-vector "
                    "unit, threshold, logic, pooling and permutation units). Writes the same "
                    "keys and values as `run`.")
    add_forward_arguments(run)
    run.add_argument("--pe", type=int, default=64, help="PE rows (default 64)")
    run.add_argument("--simd", type=int, default=64, help="SIMD bits per row (default 64)")
    run.add_argument("--acc-bits", type=int, default=16,
                     help="accumulator width in bits (default 16); below the static minimum "
                          "width of any layer (see `cost`) is an error before any work")
    run.add_argument("--acc-signed", action="store_true",
                     help="a two's-complement signed register (one bit more than unsigned)")
    run.set_defaults(handler=datapath_command)

    cost = commands.add_parser(
        "cost", help="per-layer cycles, memory traffic, operations and energy of a model file",
        description="Count BOPs, FLOPs, OPs = FLOPs + BOPs/64, cycles for PE x SIMD, bits read "
                    "and written per memory and an energy estimate, per layer and in total.")
    cost.add_argument("model", help="model file")
    cost.add_argument("--pe", type=int, default=64, help="PE rows (default 64)")
    cost.add_argument("--simd", type=int, default=64, help="SIMD bits per row (default 64)")
    cost.add_argument("--energy", help="a JSON energy table replacing the default constants")
    cost.add_argument("--json", action="store_true", help="machine-readable output")
    cost.add_argument("--plot", help="write a PNG of energy and traffic per layer")
    cost.set_defaults(handler=cost_command)
