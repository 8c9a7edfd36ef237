"""Binary convolution: XNOR-popcount over bits, into Int16 accumulators.

.. req:: CONV-1

   ``binary_conv2d(x, w)`` with bits ``x[N, Cin, H, W]`` and ``w[Cout, Cin/groups, kh, kw]``, after
   padding ``x`` by ``p`` (PAD-1 to PAD-3) to ``xp``, computes for output channel ``o`` in group
   ``g = o // (Cout/groups)``::

       s[b, o, y, x] = sum over i < Cin/groups, ky < kh, kx < kw of
                       a(xp[b, g*Cin/groups + i, y*stride + ky*dilation, x*stride + kx*dilation])
                       * a(w[o, i, ky, kx])

   where ``a(bit) = 2*bit - 1`` (ENC-1): the accumulator of ACC-1 with
   ``n = (Cin/groups) * kh * kw``, stored as int16 (ACC-3).

.. req:: CONV-2

   Output size: ``Ho = floor((H + 2p - dilation*(kh - 1) - 1) / stride) + 1``, likewise ``Wo``.
   ``ERROR_IF Ho < 1 or Wo < 1`` (:class:`~boolnet_spec.reference.errors.ShapeError`).

.. req:: CONV-3

   ``ERROR_IF`` ``x`` or ``w`` is not a rank-4 bit tensor (ENC-5), ``Cin`` or ``Cout`` is not a
   multiple of ``groups``, ``w.shape[1] != Cin/groups``
   (:class:`~boolnet_spec.reference.errors.ShapeError`), or
   ``stride``, ``dilation`` or ``groups`` is below 1
   (:class:`~boolnet_spec.reference.errors.DomainError`), or
   ``n`` is outside ``[1, N_MAX]`` (ACC-3).

.. req:: CONV-4

   Multi-slice selection (the authors' ``MultiBConv``). Input bits ``x[N, S, C, H, W]`` feed a
   binary convolution with ``groups = g`` through ``select_slices``: ``g = S`` reads every slice,
   slice ``j`` feeding group ``j``; ``g = 1`` reads slice ``S // 2`` only (for ``S = 4`` that is the
   +1/3 slice, not a symmetric middle); ``1 < g < S`` reads slices ``(S - g)//2`` up to but
   excluding ``(S + g)//2``. The selected slices are flattened slice-major (CHAN-1): channel
   ``j*C + c``. ``ERROR_IF g < 1 or g > S`` (:class:`~boolnet_spec.reference.errors.DomainError`).
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.accumulator import ACC_DTYPE, check_n
from boolnet_spec.reference.channels import flatten_slices
from boolnet_spec.reference.encoding import check_bits, to_pm1
from boolnet_spec.reference.errors import DomainError, ShapeError, error_if
from boolnet_spec.reference.padding import check_padding, pad_bits

__all__ = ["conv_output_size", "binary_conv2d", "select_slices", "multi_slice_conv2d"]


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """CONV-2 for one spatial axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _check_positive(value: int, name: str) -> None:
    error_if(not isinstance(value, (int, np.integer)) or value < 1, DomainError, name,
             "an integer >= 1", repr(value), "CONV-3")


def binary_conv2d(x: np.ndarray, weight: np.ndarray, stride: int = 1, padding: int = 0,
                  dilation: int = 1, groups: int = 1, pad_mode: str = "replicate",
                  name: str = "conv") -> np.ndarray:
    """Int16 accumulators ``s[N, Cout, Ho, Wo]`` of a grouped binary convolution (CONV-1)."""
    for value, what in ((stride, "stride"), (dilation, "dilation"), (groups, "groups")):
        _check_positive(value, f"{name}.{what}")
    check_padding(padding, pad_mode)
    x = check_bits(x, f"{name} input")
    weight = check_bits(weight, f"{name}.weight")
    error_if(x.ndim != 4, ShapeError, f"{name} input", "rank 4 [N, Cin, H, W]", list(x.shape),
             "CONV-3")
    error_if(weight.ndim != 4, ShapeError, f"{name}.weight", "rank 4 [Cout, Cin/groups, kh, kw]",
             list(weight.shape), "CONV-3")
    batch, cin, height, width = x.shape
    cout, cin_group, kh, kw = weight.shape
    error_if(cin % groups or cout % groups, ShapeError, f"{name} channels",
             f"Cin and Cout multiples of groups = {groups}", f"Cin = {cin}, Cout = {cout}",
             "CONV-3")
    error_if(cin_group != cin // groups, ShapeError, f"{name}.weight",
             f"shape[1] = Cin/groups = {cin // groups}", cin_group, "CONV-3")
    check_n(cin_group * kh * kw, f"{name} dot-product length n")
    out_h = conv_output_size(height, kh, stride, padding, dilation)
    out_w = conv_output_size(width, kw, stride, padding, dilation)
    error_if(out_h < 1 or out_w < 1, ShapeError, f"{name} output", "Ho >= 1 and Wo >= 1",
             f"Ho = {out_h}, Wo = {out_w} from H = {height}, W = {width}", "CONV-2")

    padded = pad_bits(x, padding, pad_mode, f"{name} input")
    pad_h, pad_w = padded.shape[2:]
    cout_group = cout // groups
    grouped = padded.reshape(batch, groups, cin_group, pad_h, pad_w).transpose(1, 0, 3, 4, 2)
    plus_minus = to_pm1(np.arange(2, dtype=np.uint8)).astype(np.float32)
    a = plus_minus[grouped]                                        # [g, N, Hp, Wp, Cin/g]
    w = to_pm1(weight).astype(np.float32).reshape(groups, cout_group, cin_group, kh * kw)
    w = w.transpose(0, 2, 3, 1)                                    # [g, Cin/g, taps, Cout/g]
    # Tap (ky, kx) reads row y*stride + ky*dilation: row phase (ky*dilation) % stride, shifted by
    # (ky*dilation) // stride. A phase's pixels meet its taps' weights in one matmul; each tap then
    # adds its shifted products, so no product is computed for a skipped position.
    phases: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for ky in range(kh):
        for kx in range(kw):
            phases.setdefault(((ky * dilation) % stride, (kx * dilation) % stride), []).append(
                (ky, kx))
    # Exact: every partial sum is an integer of magnitude <= n <= N_MAX < 2**24 (float32 mantissa).
    acc = np.zeros((groups, batch, out_h, out_w, cout_group), np.float32)
    for (py, px), taps in phases.items():
        phase = np.ascontiguousarray(a[:, :, py::stride, px::stride])
        rows, cols = phase.shape[2:4]
        w_taps = w[:, :, [ky * kw + kx for ky, kx in taps]].reshape(groups, cin_group, -1)
        products = np.matmul(phase.reshape(groups, -1, cin_group), w_taps)
        products = products.reshape(groups, batch, rows, cols, len(taps), cout_group)
        for index, (ky, kx) in enumerate(taps):
            qy, qx = ky * dilation // stride, kx * dilation // stride
            acc += products[:, :, qy:qy + out_h, qx:qx + out_w, index]
    acc = acc.transpose(1, 0, 4, 2, 3).reshape(batch, cout, out_h, out_w)
    return acc.astype(ACC_DTYPE)


def select_slices(x: np.ndarray, groups: int, name: str = "x") -> np.ndarray:
    """The slices a multi-slice conv with ``groups`` reads, flattened to ``[N, g*C, H, W]``
    (CONV-4)."""
    x = check_bits(x, name)
    error_if(x.ndim != 5, ShapeError, name, "rank 5 [N, S, C, H, W]", list(x.shape), "CONV-4")
    slices = x.shape[1]
    error_if(not isinstance(groups, (int, np.integer)) or not 1 <= groups <= slices, DomainError,
             "groups", f"1 <= groups <= S = {slices}", repr(groups), "CONV-4")
    if groups == 1:
        chosen = x[:, slices // 2:slices // 2 + 1]
    else:
        chosen = x[:, (slices - groups) // 2:(slices + groups) // 2]
    return flatten_slices(chosen)


def multi_slice_conv2d(x: np.ndarray, weight: np.ndarray, stride: int = 1, padding: int = 0,
                       dilation: int = 1, groups: int = 1, pad_mode: str = "replicate",
                       name: str = "conv") -> np.ndarray:
    """The authors' ``MultiBConv`` on bits: CONV-4 then CONV-1."""
    return binary_conv2d(select_slices(x, groups, f"{name} input"), weight, stride, padding,
                         dilation, groups, pad_mode, name)
