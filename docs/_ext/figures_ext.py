"""The specification's figures, drawn by code from the reference when the site is built.

Each figure is a function of :data:`FIGURES` that draws with matplotlib (no network, no system
package) and is written as SVG to ``docs/_generated/figures/NAME.svg`` before the pages are read,
where ``.. figure:: /_generated/figures/NAME.svg`` finds it. Shapes, channel counts and ``n`` come
from :func:`boolnet_spec.reference.architecture.block_plans`, the fold curves from
:class:`boolnet_spec.reference.fold.ChannelFold` and the packed word from the datapath's
``pack_activations``, so a figure cannot disagree with the reference.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import matplotlib

matplotlib.use("svg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

FIGURES = {}
OUT = Path(__file__).resolve().parent.parent / "_generated" / "figures"
plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "font.family": "DejaVu Sans",
                     "svg.hashsalt": "boolnet-spec"})
BLUE, GREEN, ORANGE, GREY, RED = "#dbe8f4", "#dff0d8", "#fbe5c8", "#eeeeee", "#f6d5d5"


def figure(name: str):
    def register(function):
        FIGURES[name] = function
        return function
    return register


def box(ax, x, y, text, color=BLUE, w=1.6, h=0.5, size=8):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=color, edgecolor="#333333", linewidth=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=size)


def arrow(ax, start, end, text="", rad=0.0, text_at=None):
    """An arrow from point to point (box edges, not centres), with an optional label."""
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 0.9, "shrinkA": 0,
                            "shrinkB": 0, "connectionstyle": f"arc3,rad={rad}"})
    if text:
        x, y = text_at or ((start[0] + end[0]) / 2 + 0.08, (start[1] + end[1]) / 2)
        ax.text(x, y, text, fontsize=7, color="#444444", ha="left", va="center",
                style="italic")


def canvas(width, height, xlim, ylim):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axis("off")
    return fig, ax


@figure("stages")
def stages():
    """The four published configurations: stem, stages and head, with shapes and n per conv."""
    from boolnet_spec.reference.architecture import CONFIGS, block_plans, stem_output_size

    fig, axes = plt.subplots(4, 1, figsize=(9.5, 8.6))
    for ax, (name, arch) in zip(axes, CONFIGS.items(), strict=True):
        plans = block_plans(arch)
        ax.set_xlim(-0.2, len(plans) + 1.9)
        ax.set_ylim(-0.72, 0.72)
        ax.axis("off")
        ax.set_title(f"{name}: {arch.family}, S = {arch.slices} slice(s)"
                     + (", last stage dilated" if arch.dilate_last else ""), fontsize=10,
                     loc="left")
        size = stem_output_size(arch.image_size)
        box(ax, 0.5, 0, f"stem\n-> S={arch.slices}\n{arch.stem_width} ch\n{size}x{size}", GREY,
            w=0.96, h=1.0, size=7.5)
        for i, plan in enumerate(plans, start=1):
            n1 = plan.in_channels * 9  # Cin of one group (one slice, or all when S = 1)
            text = (f"{plan.name}\n{plan.input_channels}->\n{plan.output_channels} ch\n"
                    f"{plan.input_size}->{plan.output_size}\nn={n1}"
                    + (f"\nstride {plan.stride}" if plan.stride > 1 else "")
                    + (f"\ndilation {plan.dilation}" if plan.dilation > 1 else ""))
            color = ORANGE if plan.downsample else (GREEN if plan.split else BLUE)
            box(ax, i + 0.5, 0, text, color, w=0.9, h=1.3, size=7.5)
            arrow(ax, (i - 0.5 + 0.45 + (0.03 if i == 1 else 0), 0), (i + 0.5 - 0.45, 0))
        box(ax, len(plans) + 1.45, 0, f"head\n-> {arch.classes}\nlogits", GREY, w=0.8, h=1.0,
            size=7.5)
        arrow(ax, (len(plans) + 0.93, 0), (len(plans) + 1.05, 0))
    fig.text(0.01, 0.005, "Orange: block with a downsample branch; green: block that splits its "
             "input (BoolNet). ch: channels per slice in -> out; H x W in -> out;\n"
             "n: dot-product length of conv1 (Cin per group x 3 x 3). Images 224x224.",
             fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _block(title: str, boolnet: bool):
    fig, ax = canvas(8.0, 7.0, (0, 12), (0, 12.4))
    ax.text(6, 12.0, title, ha="center", fontsize=10, weight="bold")
    main, side, h = 4.2, 9.4, 0.7
    box(ax, main, 11.1, "block input bits [S, Cin, H, W]", GREY, w=4.0, h=h)
    top = 11.1
    if boolnet:
        box(ax, main, 9.9, "split (CHAN-2): x = r = first half, carry = second half\n"
            "(only when Cin = 2 x width; else x = r = input)", GREEN, w=5.6, h=h, size=7)
        arrow(ax, (main, 11.1 - h / 2), (main, 9.9 + h / 2))
        top = 9.9
    box(ax, side, 8.5, "downsample branch (first block\nof a stage whose shape changes):\n"
        "BConv 1x1 over all S*Cin channels\n-> MaxPool 2x2 -> BN -> sign\n"
        "(else r = x)", ORANGE, w=3.6, h=1.6, size=7)
    arrow(ax, (main + 1.6, top - h / 2), (side - 0.6, 8.5 + 0.8), "r", rad=-0.15)
    box(ax, main, 8.5, "MultiBConv 3x3 (conv1), groups = S,\nreplicate padding (CONV-4, PAD-1)",
        BLUE, w=4.9, h=h)
    arrow(ax, (main, top - h / 2), (main, 8.5 + h / 2), "x")
    box(ax, main, 7.1, "BatchNorm + sign per slice\n= threshold units (FOLD, THR-5)", BLUE,
        w=4.4, h=h)
    arrow(ax, (main, 8.5 - h / 2), (main, 7.1 + h / 2), "s (int16 accumulator)")
    box(ax, main, 5.7, "XNOR (LOGIC-1)", GREEN, w=3.0, h=h)
    arrow(ax, (main, 7.1 - h / 2), (main, 5.7 + h / 2), "bits")
    arrow(ax, (side - 0.6, 8.5 - 0.8), (main + 1.5, 5.7), "r", rad=-0.1)
    box(ax, main, 4.3, "MultiBConv 3x3 (conv2)\n-> BatchNorm + sign (threshold units)", BLUE,
        w=4.9, h=h)
    arrow(ax, (main, 5.7 - h / 2), (main, 4.3 + h / 2))
    box(ax, main, 2.9, "OR (LOGIC-2)", GREEN, w=3.0, h=h)
    arrow(ax, (main, 4.3 - h / 2), (main, 2.9 + h / 2), "z")
    arrow(ax, (side, 8.5 - 0.8), (main + 1.5, 2.9), "r", rad=-0.15)
    if boolnet:
        box(ax, main, 1.6, "shuffle (CHAN-3): channel 2c = z1[c], 2c+1 = carry[c]\n"
            "(carry = r when the input was not split)", GREEN, w=5.6, h=h, size=7)
        arrow(ax, (main, 2.9 - h / 2), (main, 1.6 + h / 2), "z1")
        arrow(ax, (main - 2.8, 9.9), (main - 2.8, 1.6), "carry", text_at=(main - 3.9, 5.7))
        box(ax, main, 0.45, "block output bits [S, 2 x width, H', W']", GREY, w=4.4, h=0.6)
        arrow(ax, (main, 1.6 - h / 2), (main, 0.45 + 0.3))
    else:
        box(ax, main, 1.5, "block output bits [S, width, H', W']", GREY, w=4.0, h=h)
        arrow(ax, (main, 2.9 - h / 2), (main, 1.5 + h / 2))
    return fig


@figure("boolnet-block")
def boolnet_block():
    """The BoolNet block: split, conv/BN/sign, XNOR, conv, OR, shuffle, downsample branch."""
    return _block("BoolNet block (feature reuse, channel shuffle)", boolnet=True)


@figure("basenet-block")
def basenet_block():
    """The BaseNet block."""
    return _block("BaseNet block", boolnet=False)


@figure("datapath-pipeline")
def datapath_pipeline():
    """The datapath's units in pipeline order, with the PE x SIMD matrix-vector unit."""
    fig, ax = canvas(9.5, 3.4, (0, 19), (0, 6.5))
    units = [("packed words\n[N, H, W, S, K]\n(PACK-2)", GREY), ("permutation\nunit\n(PERM)", BLUE),
             ("line buffer\nwindows\n(LB)", BLUE), ("matrix-vector\nunit\nPE x SIMD (MVU)", ORANGE),
             ("threshold\nunit\n(THU)", BLUE), ("pool unit\n(POOLU)", BLUE),
             ("logic unit\nXNOR / OR\n(LOGU)", GREEN), ("packed words\nout", GREY)]
    for i, (text, color) in enumerate(units):
        box(ax, 1.2 + i * 2.35, 4.6, text, color, w=2.0, h=1.3, size=7)
        if i:
            arrow(ax, (1.2 + (i - 1) * 2.35 + 1.0, 4.6), (1.2 + i * 2.35 - 1.0, 4.6))
    x0, y0 = 5.0, 0.4
    ax.text(x0 - 0.2, 2.85, "inside the matrix-vector unit (MVU-3): PE rows in parallel, SIMD "
            "bits per row per cycle", fontsize=7.5)
    for pe in range(4):
        for lane in range(8):
            ax.add_patch(plt.Rectangle((x0 + lane * 0.55, y0 + pe * 0.55), 0.5, 0.5,
                                       facecolor=ORANGE if lane < 8 else GREY,
                                       edgecolor="#555555", linewidth=0.5))
        ax.text(x0 - 0.15, y0 + pe * 0.55 + 0.25, f"PE {3 - pe}", ha="right", va="center",
                fontsize=6.5)
        box(ax, x0 + 8 * 0.55 + 1.7, y0 + pe * 0.55 + 0.25, "popcount(XOR) -> acc", GREY,
            w=2.8, h=0.42, size=6.5)
    ax.text(x0 + 2.2, y0 - 0.28, "SIMD lanes (bits of one synapse fold)", ha="center",
            fontsize=6.5)
    ax.text(x0 + 8.0, 1.2, "one pixel: ceil(Cout / PE) neuron folds\n"
            "x ceil(64K / SIMD) synapse folds (MVU-3)", fontsize=7)
    return fig


@figure("packed-word")
def packed_word():
    """The packed layout: a pixel's slices as 64-bit words, bit 0 least significant."""
    from boolnet_spec.equivalence.datapath.layout import pack_activations

    channels, slices = 70, 2
    x = np.zeros((1, slices, channels, 1, 1), np.uint8)
    x[0, 0, [0, 2, 3, 63, 64, 69], 0, 0] = 1
    x[0, 1, [1, 5, 64], 0, 0] = 1
    words = pack_activations(x).words
    fig, ax = canvas(9.5, 3.3, (-3.2, 66), (-2.6, 6.2))
    ax.text(-3.1, 5.8, f"One pixel of a bit tensor with S = {slices} slices of C = {channels} "
            "channels: words[b, y, x, j, k], K = ceil(C/64) = 2 words per slice (PACK-2)",
            fontsize=7.5)
    for row, (j, k) in enumerate((j, k) for j in range(slices) for k in range(words.shape[-1])):
        word = int(words[0, 0, 0, j, k])
        y = 4.2 - row * 1.25
        ax.text(-0.6, y + 0.45, f"slice {j}\nword {k}", ha="right", va="center", fontsize=6.5)
        for bit in range(64):
            value = (word >> bit) & 1
            channel = 64 * k + bit
            unused = channel >= channels
            ax.add_patch(plt.Rectangle((63 - bit, y), 0.95, 0.9,
                                       facecolor=GREY if unused else (ORANGE if value else "white"),
                                       edgecolor="#777777", linewidth=0.3))
            if value:
                ax.text(63 - bit + 0.47, y + 0.45, "1", ha="center", va="center", fontsize=5)
        ax.text(64.6, y + 0.45, f"0x{word:016x}", va="center", fontsize=6.5,
                family="DejaVu Sans Mono")
    for bit in (63, 32, 0):
        ax.text(63 - bit + 0.47, -0.95, str(bit), ha="center", fontsize=6.5)
    ax.text(31.5, -1.7, "bit i of the word (bit 0, least significant, on the right) holds channel "
            "64k + i; grey: unused bits, always 0 (PACK-3)", ha="center", fontsize=7)
    ax.text(31.5, -2.4, "in memory: 8 bytes, least significant byte first (PACK-1)",
            ha="center", fontsize=7)
    return fig


@figure("fold-curves")
def fold_curves():
    """y_j(s) over D_n with t* and the canonical unit, for gamma > 0 and gamma < 0."""
    from boolnet_spec.reference.accumulator import domain
    from boolnet_spec.reference.batchnorm import BatchNorm
    from boolnet_spec.reference.fold import ChannelFold, fold_bn_sign

    n = 9
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4), sharey=True)
    for ax, gamma in zip(axes, (1.25, -1.25), strict=True):
        f32 = np.float32
        bn = BatchNorm(np.array([gamma], f32), np.array([0.3], f32), np.array([1.6], f32),
                       np.array([2.0], f32))
        channel = ChannelFold(bn, 0, f32(1), f32(0))
        units = fold_bn_sign(bn, n)
        polarity, t = int(units.polarity[0, 0]), int(units.threshold[0, 0])
        s_real = np.linspace(-n - 0.5, n + 0.5, 200)
        sigma = np.sqrt(float(bn.var[0]) + bn.eps)
        y = gamma * (s_real - float(bn.mean[0])) / sigma + float(bn.beta[0])
        root = channel.root_estimate(Fraction(0))
        ax.axhline(0, color="#999999", lw=0.7)
        ax.plot(s_real, y, color="#1f5f8b", lw=1.2, label="y(s) over the reals")
        points = domain(n)
        bits = [channel.bit(int(s), Fraction(0)) for s in points]
        ys = gamma * (points - float(bn.mean[0])) / sigma + float(bn.beta[0])
        ax.scatter(points, ys, c=["#2e7d32" if b else "#b00020" for b in bits], zorder=3, s=18,
                   label="s in D_n (green: bit 1)")
        ax.axvline(root, color="#e07b00", ls="--", lw=1, label=f"t* = {root:.3f}")
        ax.axvline(t, color="#555555", ls=":", lw=1.2,
                   label=f"canonical t = {t}")
        relation = ">=" if polarity else "<="
        ax.set_title(f"gamma {'>' if gamma > 0 else '<'} 0: unit ({polarity}, {t}), "
                     f"bit = [s {relation} {t}]", fontsize=9)
        ax.set_xlabel("accumulator s (n = 9)")
        ax.set_xticks(points)
        ax.legend(fontsize=6.5, loc="upper left" if gamma < 0 else "lower right")
    axes[0].set_ylabel("y(s)")
    fig.tight_layout()
    return fig


def generate(app) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES.items():
        fig = draw()
        fig.savefig(OUT / f"{name}.svg", metadata={"Date": None})
        plt.close(fig)


def setup(app):
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
