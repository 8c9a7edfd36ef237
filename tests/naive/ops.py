"""Naive oracles for the binary ops, the stem and the head: loops, index arithmetic, Fractions.

Independent of ``reference``: bits become +-1 Python ints one element at a time, padding is a
clamp or a constant written out per pixel, sums are exact (``Fraction``) or plain binary64 in the
order the specification states. Parameters arrive as plain arrays, never as reference objects.
Beside the oracles: the ERR-1 message pattern, and first-order binary64 error bounds (Higham) for
comparing two evaluation orders of the same real-valued formula.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np


def spec_message(tensor: str, bound: str, value: str, label: str) -> str:
    """A regex for ERR-1's ``"{tensor}: expected {bound}, got {value} [{label}]"``; ``bound`` and
    ``value`` are fragments that must appear in their parts."""
    return (rf"^{re.escape(tensor)}: expected .*{re.escape(bound)}.*, got .*{re.escape(value)}.*"
            rf" \[{re.escape(label)}\]$")


def pm1(bit) -> int:
    """The +-1 value of a bit: 1 stands for +1, 0 for -1."""
    return 2 * int(bit) - 1


def clamp(i: int, low: int, high: int) -> int:
    """``i`` clamped to ``[low, high]``."""
    return min(max(i, low), high)


def padded_bit(plane: list, i: int, j: int, mode: str) -> int:
    """The bit at row ``i``, column ``j`` of a padded plane, ``i``, ``j`` relative to the input."""
    height, width = len(plane), len(plane[0])
    if 0 <= i < height and 0 <= j < width:
        return plane[i][j]
    if mode == "replicate":
        return plane[clamp(i, 0, height - 1)][clamp(j, 0, width - 1)]
    if mode == "one":
        return 1
    raise AssertionError(f"tap ({i}, {j}) outside the input with pad mode {mode!r}")


def pad_bits(x: np.ndarray, padding: int, mode: str) -> np.ndarray:
    """Every pixel of the padded map read through ``padded_bit``."""
    height, width = x.shape[-2:]
    out = np.zeros((*x.shape[:-2], height + 2 * padding, width + 2 * padding), np.uint8)
    for lead in np.ndindex(x.shape[:-2]):
        plane = x[lead].tolist()
        for i in range(height + 2 * padding):
            for j in range(width + 2 * padding):
                out[(*lead, i, j)] = padded_bit(plane, i - padding, j - padding, mode)
    return out


def binary_conv2d(x: np.ndarray, weight: np.ndarray, stride: int, padding: int, dilation: int,
                  groups: int, pad_mode: str) -> np.ndarray:
    """CONV-1's sum over +-1 Python ints, one loop per index; int64 ``[N, Cout, Ho, Wo]``."""
    batch, _, height, width = x.shape
    cout, cin_group, kh, kw = weight.shape
    out_h = (height + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    out_w = (width + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    planes, w = x.tolist(), weight.tolist()
    out = np.zeros((batch, cout, out_h, out_w), np.int64)
    for b in range(batch):
        for o in range(cout):
            group = o // (cout // groups)
            for y in range(out_h):
                for xx in range(out_w):
                    acc = 0
                    for i in range(cin_group):
                        plane = planes[b][group * cin_group + i]
                        for ky in range(kh):
                            for kx in range(kw):
                                row = y * stride + ky * dilation - padding
                                col = xx * stride + kx * dilation - padding
                                acc += pm1(padded_bit(plane, row, col, pad_mode)) * \
                                    pm1(w[o][i][ky][kx])
                    out[b, o, y, xx] = acc
    return out


def receptive_field(x: np.ndarray, b: int, group: int, cin_group: int, y: int, xx: int,
                    kernel: tuple[int, int], stride: int, padding: int, dilation: int,
                    pad_mode: str) -> list[int]:
    """The input bits one output reads, in weight order (channel, ky, kx)."""
    planes = x[b].tolist()
    return [padded_bit(planes[group * cin_group + i], y * stride + ky * dilation - padding,
                       xx * stride + kx * dilation - padding, pad_mode)
            for i in range(cin_group) for ky in range(kernel[0]) for kx in range(kernel[1])]


def selected_slices(slices: int, groups: int) -> list[int]:
    """The slices the authors' ``MultiBConv.forward`` reads, its branches in its order."""
    if groups == 1:
        return [slices // 2]
    if slices > groups:
        return list(range((slices - groups) // 2, (slices + groups) // 2))
    assert slices == groups
    return list(range(slices))


def flatten_slices(x: np.ndarray, chosen: list[int] | None = None) -> np.ndarray:
    """``out[b, j*C + c] = x[b, chosen[j], c]`` by index arithmetic (all slices by default)."""
    batch, slices, channels, height, width = x.shape
    chosen = list(range(slices)) if chosen is None else chosen
    out = np.zeros((batch, len(chosen) * channels, height, width), np.uint8)
    for b in range(batch):
        for j, s in enumerate(chosen):
            for c in range(channels):
                for i in range(height):
                    for k in range(width):
                        out[b, j * channels + c, i, k] = x[b, s, c, i, k]
    return out


def split_channels(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Channels ``c < C/2`` and ``c >= C/2`` of every slice, copied one by one."""
    half = x.shape[2] // 2
    first = np.zeros((*x.shape[:2], half, *x.shape[3:]), np.uint8)
    second = np.zeros_like(first)
    for index in np.ndindex(first.shape):
        b, s, c, i, k = index
        first[index] = x[b, s, c, i, k]
        second[index] = x[b, s, half + c, i, k]
    return first, second


def shuffle_channels(z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """``out[..., 2c + t, :, :]`` from ``(z1, z2)[t][..., c, :, :]`` by index arithmetic."""
    batch, slices, channels, height, width = z1.shape
    out = np.zeros((batch, slices, 2 * channels, height, width), np.uint8)
    for b, s, channel, i, k in np.ndindex(out.shape):
        source = z1 if channel % 2 == 0 else z2
        out[b, s, channel, i, k] = source[b, s, channel // 2, i, k]
    return out


def binary_maxpool(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """OR over each window of the last two axes, by loops."""
    height, width = x.shape[-2:]
    out_h, out_w = (height - kernel) // stride + 1, (width - kernel) // stride + 1
    out = np.zeros((*x.shape[:-2], out_h, out_w), np.uint8)
    for lead in np.ndindex(x.shape[:-2]):
        for y in range(out_h):
            for xx in range(out_w):
                out[(*lead, y, xx)] = int(any(
                    x[(*lead, y * stride + dy, xx * stride + dx)] == 1
                    for dy in range(kernel) for dx in range(kernel)))
    return out


def window_values(x: np.ndarray, lead: tuple, y: int, xx: int, kernel: int, stride: int,
                  padding: int = 0) -> list:
    """The elements of one pooling window that lie inside the input (padding is skipped)."""
    height, width = x.shape[-2:]
    values = []
    for dy in range(kernel):
        for dx in range(kernel):
            i, j = y * stride + dy - padding, xx * stride + dx - padding
            if 0 <= i < height and 0 <= j < width:
                values.append(x[(*lead, i, j)])
    return values


def real_maxpool(x: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
    """Max over the in-input positions of each window, by loops."""
    height, width = x.shape[-2:]
    out_h = (height + 2 * padding - kernel) // stride + 1
    out_w = (width + 2 * padding - kernel) // stride + 1
    out = np.zeros((*x.shape[:-2], out_h, out_w), x.dtype)
    for lead in np.ndindex(x.shape[:-2]):
        for y in range(out_h):
            for xx in range(out_w):
                out[(*lead, y, xx)] = max(window_values(x, lead, y, xx, kernel, stride, padding))
    return out


def bn_sign_bit(v: Fraction, gamma, beta, mean, var, eps, offset) -> int:
    """``[gamma*(v - mean)/sqrt(var + eps) + beta + offset >= 0]`` on exact values, by squares."""
    lhs = Fraction(float(gamma)) * (v - Fraction(float(mean)))
    rhs = -(Fraction(float(beta)) + Fraction(float(offset)))
    variance = Fraction(float(var)) + Fraction(float(eps))
    # y >= 0  <=>  lhs >= rhs * sqrt(variance); squaring is valid once the signs are known.
    if lhs >= 0 and rhs <= 0:
        return 1
    if lhs < 0 and rhs >= 0:
        return 0
    if lhs >= 0:
        return int(lhs * lhs >= rhs * rhs * variance)
    return int(lhs * lhs <= rhs * rhs * variance)


def slice_bit(z, offset) -> int:
    """``[z + o >= 0]`` on the exact values of a float ``z`` and a finite float32 ``o``."""
    if math.isinf(z):
        return int(z > 0)
    return int(Fraction(float(z)) + Fraction(float(offset)) >= 0)


def real_conv2d_exact(x: np.ndarray, weight: np.ndarray, stride: int, padding: int,
                      groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-padded convolution with exact Fraction sums; also ``sum |x*w|`` per output."""
    batch, _, height, width = x.shape
    cout, cin_group, kh, kw = weight.shape
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    planes, w = x.tolist(), weight.tolist()
    values = np.zeros((batch, cout, out_h, out_w), object)
    magnitudes = np.zeros((batch, cout, out_h, out_w), object)
    for b in range(batch):
        for o in range(cout):
            group = o // (cout // groups)
            for y in range(out_h):
                for xx in range(out_w):
                    total, magnitude = Fraction(0), Fraction(0)
                    for i in range(cin_group):
                        plane = planes[b][group * cin_group + i]
                        for ky in range(kh):
                            for kx in range(kw):
                                row, col = y * stride + ky - padding, xx * stride + kx - padding
                                if 0 <= row < height and 0 <= col < width:
                                    term = Fraction(plane[row][col]) * Fraction(w[o][i][ky][kx])
                                    total += term
                                    magnitude += abs(term)
                    values[b, o, y, xx] = total
                    magnitudes[b, o, y, xx] = magnitude
    return values, magnitudes


def batchnorm_binary64(v: float, gamma, beta, mean, var, eps) -> float:
    """BN-3 in Python floats, one rounding per operation in the stated order."""
    root = math.sqrt(float(var) + float(eps))
    return ((v - float(mean)) / root) * float(gamma) + float(beta)


def last_block_real(s2: np.ndarray, alpha2: np.ndarray, bn2: tuple, x: np.ndarray,
                    bn3: tuple) -> np.ndarray:
    """HEAD-1 element by element: ``BN2(alpha2*s2) + BN3(mean of +-1 over slices)``."""
    batch, slices, channels, height, width = x.shape
    out = np.zeros((batch, channels, height, width), np.float64)
    for b, c, i, k in np.ndindex(out.shape):
        conv = float(s2[b, c, i, k]) * float(alpha2[c])
        mean = sum(pm1(x[b, j, c, i, k]) for j in range(slices)) / slices
        out[b, c, i, k] = batchnorm_binary64(conv, *(p[c] for p in bn2[:4]), bn2[4]) + \
            batchnorm_binary64(mean, *(p[c] for p in bn3[:4]), bn3[4])
    return out


def prelu(z: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """HEAD-2 element by element over axis 1."""
    out = np.zeros(z.shape, np.float64)
    for index in np.ndindex(z.shape):
        value = float(z[index])
        out[index] = value if value >= 0 else float(slope[index[1]]) * value
    return out


def classifier_exact(z: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> list[list[Fraction]]:
    """HEAD-3 on exact values: ``mean over H x W``, then ``pooled @ W.T + b`` in Fractions."""
    batch, channels, height, width = z.shape
    logits = []
    for b in range(batch):
        pooled = [sum(Fraction(float(z[b, c, i, k])) for i in range(height) for k in range(width))
                  / (height * width) for c in range(channels)]
        logits.append([sum(pooled[c] * Fraction(float(weight[o, c])) for c in range(channels))
                       + Fraction(float(bias[o])) for o in range(weight.shape[0])])
    return logits


U = 2.0**-53


def gamma_m(m: int) -> float:
    """Higham's ``gamma_m = m*u/(1 - m*u)``: the relative error bound of ``m`` roundings."""
    return m * U / (1 - m * U)


def batchnorm_gap(x_abs, x_err, gamma, beta, mean, var, eps):
    """Bound on ``|BN_A(x_A) - BN_B(x_B)|`` for two binary64 evaluation orders of BN-1 (BN-3's and
    torch's ``x*(gamma/sqrt(var + eps)) + (beta - mean*gamma/sqrt(var + eps))``), elementwise over
    axis 1, given ``|x_A| <= x_abs`` and ``|x_A - x_B| <= x_err``.

    Either order rounds at most 6 times on quantities bounded by ``size``: first order 7.5u*size.
    """
    expand = (slice(None),) + (None,) * (np.ndim(x_abs) - 2)
    scale = (np.abs(gamma.astype(np.float64)) / np.sqrt(var.astype(np.float64) + eps))[expand]
    size = (x_abs + x_err + np.abs(mean.astype(np.float64))[expand]) * scale + \
        np.abs(beta.astype(np.float64))[expand]
    # 8u*size per order leaves room for the second-order terms.
    return scale * x_err * (1 + 8 * U) + 2 * 8 * U * size
