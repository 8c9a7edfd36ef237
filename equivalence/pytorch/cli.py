"""The ``compare``, ``certify`` and ``train-digits`` commands of ``boolnet-spec``.

.. req:: CLI-1

   ``boolnet-spec compare [CHECKPOINT --config=C] [--input=X.npy] [--json]`` runs the harness
   (HARNESS-1 to HARNESS-6) and ``boolnet-spec certify [CHECKPOINT --config=C] [--json]`` the
   certification (CERT-1 to CERT-3). Without a checkpoint both use the bundled digits model and
   its bundled sample images; with one, ``--config`` names its configuration (EXPORT-3) and
   ``compare`` uses ``--input`` (float32 ``[N, 3, H, W]``, ``.npy`` read without pickle) or
   ``--samples`` seeded standard normal images. ``--json`` prints one JSON object whose
   ``summary`` holds ``mismatch``, ``ternary``, ``float_ambiguous`` (counts) and
   ``top1_agreement`` (a fraction; ``certify`` gives it on the bundled sample images, and ``null``
   for a checkpoint without ``--input``). Progress bars go to stderr. ``compare --ternary=error``
   makes a torch 0 in a bit tensor a ``mismatch`` (HARNESS-8); ``--model=FILE`` (both commands)
   supplies the implementation's own folded model file, whose units are checked (HARNESS-7).
   ``--module-map=FILE`` (both commands; JSON or TOML, HARNESS-11) translates CHECKPOINT's keys
   from the implementation's module paths to the authors'. Its ``fused`` entries (HARNESS-14)
   name threshold modules whose ``[S, C]`` tensors CHECKPOINT holds under
   ``<module>.<threshold>`` and ``<module>.<polarity>``; ``compare`` then needs
   ``--state-dict=FILE``, the float state dict in the authors' layout: the model compared is
   built from it, and every held threshold is checked against its exact fold (a ``units`` row
   per fused layer; no module of the implementation runs on the command line, so its bits are
   not teacher-forced). ``certify`` refuses fused entries before any work (CERT-4), naming
   ``compare --module-map MAP --state-dict FLOAT`` as the check for them. ``--state-dict``
   without fused entries is the reference the comparison is built from (HARNESS-14).

.. req:: CLI-2

   Exit status: 0 when there is no ``mismatch``, 1 when there is one, 2 for an invalid argument or
   file (a :class:`~boolnet_spec.reference.errors.SpecError`, one line on stderr), before any work
   is done.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from boolnet_spec.reference.commandline import format_table, print_json
from boolnet_spec.reference.errors import DomainError, ShapeError, UsageError, error_if
from boolnet_spec.reference.limits import (
    MAX_EPOCHS,
    MAX_IMAGES,
    MAX_LISTED,
    check_count,
    check_seed,
)

__all__ = ["register", "compare_command", "certify_command", "train_command", "BUNDLED"]

DATA = Path(__file__).resolve().parent / "data"
BUNDLED = DATA / "boolnet-digits.safetensors"


def _translated(args: argparse.Namespace, state: dict) -> dict:
    """CHECKPOINT's keys under the authors' paths (``--module-map``, HARNESS-11)."""
    from boolnet_spec.equivalence.pytorch.harness.mapping import _replace_prefix

    inverse = {v: k for k, v in args.map_paths.items()}
    return {_replace_prefix(key, inverse): value for key, value in state.items()}


def _load_map(args: argparse.Namespace, certify: bool = False) -> None:
    """``--module-map`` and ``--state-dict``, read and validated before any work."""
    from boolnet_spec.equivalence.pytorch.export import load_checkpoint
    from boolnet_spec.equivalence.pytorch.harness.fused import require_state_dict
    from boolnet_spec.equivalence.pytorch.harness.mapping import load_map

    args.map_paths, args.fused = load_map(args.module_map) if getattr(
        args, "module_map", None) else ({}, {})
    error_if(bool(args.fused) and args.checkpoint is None, UsageError, "--module-map",
             "fused entries only with a CHECKPOINT that holds their thresholds",
             "no CHECKPOINT", "HARNESS-14")
    if certify:  # CERT-4's refusal, not the missing --state-dict certify has no option for
        from boolnet_spec.equivalence.pytorch.certify import REFUSE_FUSED

        error_if(bool(args.fused), UsageError, "--module-map", REFUSE_FUSED,
                 lambda: ", ".join(sorted(args.fused)), "CERT-4")
    sd_path = getattr(args, "state_dict", None)
    require_state_dict(args.fused, sd_path)
    args.float_state = load_checkpoint(sd_path) if sd_path else None


def _load(args: argparse.Namespace, images: np.ndarray | None):
    """``(module, arch, images, label)`` for the bundled model or a checkpoint."""
    from boolnet_spec.equivalence.pytorch.export import (
        infer_architecture,
        load_checkpoint,
        torch_model,
    )
    from boolnet_spec.reference.architecture import Architecture
    from boolnet_spec.reference.safe_io import read_npy
    from boolnet_spec.reference.stem import check_image

    if args.checkpoint is None:
        error_if(args.config is not None, DomainError, "--config",
                 "no --config without a CHECKPOINT (the bundled model has its own)",
                 args.config, "CLI-1")
        provenance = json.loads((DATA / "boolnet-digits.json").read_text(encoding="utf-8"))
        arch = Architecture.from_json(provenance["architecture"])
        state = load_checkpoint(BUNDLED)
        label = f"bundled {arch.name} ({BUNDLED.name})"
        if images is None:
            images = read_npy(DATA / provenance["samples"]["file"], "bundled samples")
    else:
        error_if(args.config is None, DomainError, "--config",
                 "the configuration of CHECKPOINT (e.g. --config boolnet-k4)", "missing",
                 "CLI-1")
        size = args.image_size
        if images is not None:
            images = check_image(images)
            error_if(images.shape[2] != images.shape[3], ShapeError, "--input",
                     "square images [N, 3, H, W] with H = W (the architecture's image size)",
                     list(images.shape), "CLI-1")
            size = images.shape[2]
        args.held = load_checkpoint(args.checkpoint)
        state = args.float_state if args.fused else _translated(args, args.held)
        arch = infer_architecture(args.config, state, size)
        label = f"{args.checkpoint} ({arch.name})"
    if images is not None:
        images = check_image(images)
    args.arch = arch
    return torch_model(arch, state, args.sign_mode), arch, images, label


def _inputs(args: argparse.Namespace) -> np.ndarray | None:
    from boolnet_spec.reference.safe_io import read_npy

    if getattr(args, "input", None):
        return read_npy(args.input, "--input")
    return None


def _supplied(args: argparse.Namespace):
    """The implementation's own folded model file (``--model``, HARNESS-7), or None."""
    from boolnet_spec.reference.modelfile import load_model

    return load_model(args.model) if getattr(args, "model", None) else None


COMPARE_COLUMNS = [("layer", 24, "layer"), ("kind", 4, "kind"), ("elements", 9, "elements"),
                   ("equal", 9, "equal"), ("ternary", 7, "ternary"),
                   ("float_amb", 9, "float_ambiguous"), ("mismatch", 8, "mismatch"),
                   ("min margin", 10, "smallest_margin")]
CERTIFY_COLUMNS = [("layer", 22, "layer"), ("n", 5, "n"), ("channels", 8, "channels"),
                   ("certified", 9, "certified_channels"), ("at risk", 7, "at_risk_values"),
                   ("float_amb", 9, "float_ambiguous"), ("ternary", 7, "ternary"),
                   ("mismatch", 8, "mismatch"), ("min margin", 10, "smallest_margin")]


def compare_command(args: argparse.Namespace) -> int:
    from boolnet_spec.equivalence.pytorch.harness import compare

    check_count(args.limit, MAX_LISTED, "--limit", minimum=0)
    seed = check_seed(args.seed)
    if args.checkpoint is not None and not args.input:
        check_count(args.samples, MAX_IMAGES, "--samples")
    _load_map(args)
    images = _inputs(args)
    module, arch, images, label = _load(args, images)
    if args.fused:  # before any work: every fused node is a thresholded layer of the config
        from boolnet_spec.equivalence.pytorch.harness.fused import check_fused_nodes

        check_fused_nodes(args.fused, arch, f"--module-map {args.module_map}")
    if images is None:
        rng = np.random.default_rng(seed)
        size = arch.image_size
        images = rng.standard_normal((args.samples, 3, size, size)).astype(np.float32)
    result = compare(module, arch, images, limit=args.limit, ternary=args.ternary,
                     model=_supplied(args), state_dict=args.float_state)
    if args.fused:
        _check_held(args, result)
    report = result.to_json(args.limit)
    summary = report["summary"]
    if args.json:
        print_json({"model": label, **report})
    else:
        print(f"{label}: {images.shape[0]} image(s), teacher-forced")
        print(format_table(report["layers"], COMPARE_COLUMNS))
        free = report["free_running"]
        print(f"free running: {summary['free_running_bit_differences']} differing bits, "
              f"top-1 agreement {summary['top1_agreement']:.3f}, largest logit difference "
              f"{free['logits_max_abs_diff']:.3g} (bound {free['logits_bound_max']})")
        for entry in report["first_disagreements"]:
            print("  " + json.dumps(entry))
        print(f"mismatch {summary['mismatch']}, ternary {summary['ternary']}, float_ambiguous "
              f"{summary['float_ambiguous']}, equal {summary['equal']} of {summary['elements']}")
    return 0 if summary["mismatch"] == 0 else 1


def _check_held(args: argparse.Namespace, result) -> None:
    """HARNESS-14 on the command line: CHECKPOINT's held thresholds against the exact fold."""
    from boolnet_spec.equivalence.pytorch.harness.fused import check_fused_units
    from boolnet_spec.reference.build import build_model

    model = build_model(args.arch, args.float_state)
    rows, findings, _ = check_fused_units(
        lambda spec: lambda name: args.held.get(f"{spec.module}.{name}"), args.fused,
        args.float_state, model)
    result.rows += rows
    result.disagreements[:0] = findings[:args.limit]


def certify_command(args: argparse.Namespace) -> int:
    from boolnet_spec.equivalence.pytorch.certify import certify
    from boolnet_spec.equivalence.pytorch.harness import compare

    check_count(args.limit, MAX_LISTED, "--limit", minimum=0)
    _load_map(args, certify=True)
    module, arch, images, label = _load(args, None)
    result = certify(module, arch, model=_supplied(args))
    report = result.to_json(args.limit)
    top1 = None
    if images is not None:
        top1 = compare(module, arch, images, progress=False).summary["top1_agreement"]
    report["summary"]["top1_agreement"] = top1
    summary = report["summary"]
    if args.json:
        print_json({"model": label, **report})
    else:
        print(f"{label}: {summary['accumulator_values']} accumulator values of "
              f"{summary['units']} threshold units in {summary['seconds']} s")
        print(format_table(report["layers"], CERTIFY_COLUMNS))
        print(f"certified {summary['certified_channels']} of {summary['channels']} channels; "
              f"at risk: {summary['at_risk_values']} values (float_ambiguous "
              f"{summary['float_ambiguous']}, ternary {summary['ternary']}, mismatch "
              f"{summary['mismatch']})")
        scope = report["scope"]
        print("scope (CERT-4): checks " + "; ".join(scope["sees"]) + ".\n  blind to: "
              + ", ".join(scope["blind_to"]) + ".\n  for those use: "
              + "; ".join(scope["see_also"]) + ".")
    return 0 if summary["mismatch"] == 0 else 1


def train_command(args: argparse.Namespace) -> int:
    from boolnet_spec.equivalence.pytorch.train import main

    check_seed(args.seed)
    if args.epochs is not None:
        check_count(args.epochs, MAX_EPOCHS, "--epochs")
    extra = [] if args.epochs is None else ["--epochs", str(args.epochs)]
    return main(["--seed", str(args.seed), "-o", args.output, *extra])


def _common(parser: argparse.ArgumentParser) -> None:
    from boolnet_spec.reference.architecture import CONFIGS

    parser.add_argument("checkpoint", nargs="?",
                        help=".pth (torch.load weights_only), .safetensors or .npz state dict "
                             "in the authors' layout (default: the bundled digits model)")
    parser.add_argument("--config", choices=sorted(CONFIGS),
                        help="configuration of CHECKPOINT (scaled to its shapes)")
    parser.add_argument("--image-size", type=int, help="image size of CHECKPOINT (default: "
                        "from --input, else the configuration's)")
    parser.add_argument("--sign-mode", choices=("official", "spec"), default="official",
                        help="sign(0) of the PyTorch model: official (0) or spec (+1)")
    parser.add_argument("--model", help="the implementation's own folded model file: its "
                        "threshold units are checked against the exact fold (HARNESS-7)")
    parser.add_argument("--module-map", help="JSON or TOML map from the authors' module paths "
                        "to CHECKPOINT's (paths), and fused threshold modules (fused) "
                        "(HARNESS-11, HARNESS-14)")
    parser.add_argument("--limit", type=int, default=20, help="disagreements to list")
    parser.add_argument("--json", action="store_true", help="machine-readable report")


def register(commands) -> None:
    """Add ``compare``, ``certify`` and ``train-digits`` to the ``boolnet-spec`` parser."""
    compare = commands.add_parser(
        "compare", help="PyTorch model vs reference, bit by bit",
        description="Teacher-forced and free-running comparison of a PyTorch BoolNet with its "
                    "folded reference; every disagreeing element is classified as ternary, "
                    "float_ambiguous or mismatch. Exit 0 only without mismatches.")
    _common(compare)
    compare.add_argument("--input", help="float32 images [N, 3, H, W] (.npy)")
    compare.add_argument("--state-dict", help="the float state dict (authors' layout) whose "
                         "BatchNorm the fused thresholds fold; the reference is built from it "
                         "(HARNESS-14)")
    compare.add_argument("--samples", type=int, default=2,
                         help="random images for a CHECKPOINT without --input (default 2)")
    compare.add_argument("--seed", type=int, default=0, help="seed of the random images")
    compare.add_argument("--ternary", choices=("count", "error"), default="count",
                         help="a torch 0 in a bit tensor: classified and counted (default) or a "
                              "mismatch (error; always so for --sign-mode=spec)")
    compare.set_defaults(handler=compare_command)

    certify = commands.add_parser(
        "certify", help="certify every binary channel over its whole input domain",
        description="For every binary channel, slice and accumulator value, evaluate the "
                    "PyTorch model's own BatchNorm and GhostSign on the float32 interval its "
                    "convolution can produce and compare with the folded threshold unit. "
                    "It never runs the model's convolution, logic, shuffle, stem or head: "
                    "padding, accumulator, weight-bit, alpha, split, XNOR, OR and shuffle bugs "
                    "are invisible to it (CERT-4); use `compare` and `conform` for those. "
                    "Exit 0 only without mismatches.")
    _common(certify)
    certify.set_defaults(handler=certify_command)

    train = commands.add_parser("train-digits", help="retrain the bundled digits model",
                                description="Train the bundled BoolNet on scikit-learn's 8x8 "
                                            "digits (needs scikit-learn: the train extra).")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=int, help="default: the bundled model's")
    train.add_argument("-o", "--output", required=True,
                       help="directory for the checkpoint, provenance and samples")
    train.set_defaults(handler=train_command)

