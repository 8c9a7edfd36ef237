"""The ``datapath`` and ``cost`` commands of ``boolnet-spec``: run a model file on the packed
datapath, and count its cycles, traffic, operations and energy."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reference.errors import DomainError

__all__ = ["register_datapath", "datapath_command", "cost_command", "COST_COLUMNS"]


def datapath_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from equivalence.datapath.machine import Datapath
    from reference.cli import check_output
    from reference.modelfile import load_model, read_npy, write_npz_atomic

    out = check_output(args.output)
    model = load_model(args.model)
    machine = Datapath(model, pe=args.pe, simd=args.simd, acc_bits=args.acc_bits)
    images = read_npy(args.input, "--input")
    with tqdm(total=len(model.nodes), desc="datapath", unit="node", disable=None,
              file=sys.stderr) as bar:
        logits, trace = machine.run(images, trace=args.trace, progress=lambda name: bar.update())
    write_npz_atomic(out, {"logits": logits, **trace})
    top1 = logits.argmax(axis=1).tolist()
    if args.json:
        print(json.dumps({"output": str(out), "logits_shape": list(logits.shape), "top1": top1,
                          "trace": sorted(trace), "pe": args.pe, "simd": args.simd,
                          "acc_bits": args.acc_bits}))
    else:
        print(f"wrote {out}: logits {list(logits.shape)}"
              + (f" and {len(trace)} traced tensors" if trace else "") + f"; top-1 {top1}")
    return 0


COST_COLUMNS = (("layer", 22), ("op", 7), ("n", 5), ("acc", 3), ("BOPs", 11), ("FLOPs", 11),
                ("OPs", 11), ("cycles", 9), ("bits read", 12), ("bits written", 12),
                ("energy nJ", 10))


def _paper_comparison(model, total: dict) -> dict | None:
    from equivalence.datapath.counters import PAPER
    from reference.architecture import CONFIGS

    name = model.architecture.name
    if CONFIGS.get(name) != model.architecture or name not in PAPER:
        return None
    return {key: {"paper": value, "ours": total[key], "difference": total[key] / value - 1}
            for key, value in PAPER[name].items() if key in ("bops", "flops", "ops")}


def _block(model, table) -> dict | None:
    """The Table 3 block of ``layer1.0.conv1`` against a 32-bit-shortcut block (COST-6, COST-7)."""
    from equivalence.datapath.counters import block_energy

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

    from reference.modelfile import write_atomic

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
    from equivalence.datapath.counters import HOROWITZ_45NM, EnergyTable, model_costs
    from equivalence.datapath.mvu import MVUConfig
    from reference.cli import check_output
    from reference.modelfile import load_model

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
        print(json.dumps(report))
        return 0
    print(f"{arch.name}: PE {args.pe}, SIMD {args.simd}, energy constants: {table.source}")
    print("  ".join(f"{title:>{width}}" for title, width in COST_COLUMNS))
    for row in [*costs["layers"], {**costs["total"], "layer": "total", "op": "", "n": "",
                                   "min_acc_bits": ""}]:
        cells = (row["layer"], row["op"], row["n"] or "", row["min_acc_bits"] or "",
                 f"{row['bops']:.4g}", f"{row['flops']:.4g}", f"{row['ops']:.4g}",
                 row["cycles"], row["bits_read"], row["bits_written"],
                 f"{row['energy_pj'] / 1e3:.1f}")
        print("  ".join(f"{cell!s:>{width}}" for cell, (_, width) in
                        zip(cells, COST_COLUMNS, strict=True)))
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


def register_datapath(commands) -> None:
    """Add ``datapath`` and ``cost`` to the ``boolnet-spec`` sub-command parser."""
    run = commands.add_parser(
        "datapath", help="run a model file on the packed accelerator datapath model",
        description="Execute a model file on 64-bit packed words (XNOR-popcount matrix-vector "
                    "unit, threshold, logic, pooling and permutation units). Writes the same "
                    "keys and values as `run`.")
    run.add_argument("model", help="model file")
    run.add_argument("--input", required=True, help="float32 images [N, 3, H, W] (.npy)")
    run.add_argument("-o", "--output", required=True, help=".npz file with logits (and trace)")
    run.add_argument("--trace", action="store_true", help="also write every named tensor")
    run.add_argument("--pe", type=int, default=64, help="PE rows (default 64)")
    run.add_argument("--simd", type=int, default=64, help="SIMD bits per row (default 64)")
    run.add_argument("--acc-bits", type=int, default=16,
                     help="unsigned accumulator width in bits (default 16)")
    run.add_argument("--json", action="store_true", help="machine-readable summary")
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
