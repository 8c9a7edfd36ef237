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
   excluding ``(S + g)//2`` (a rule that does not extend to ``g = 1``: it would give
   ``(S - 1)//2``). The selected slices are flattened slice-major (CHAN-1): channel
   ``j*C + c``. ``ERROR_IF g < 1 or g > S`` (:class:`~boolnet_spec.reference.errors.DomainError`).

Evaluation. :func:`binary_conv2d` forms CONV-1's sums with binary32 or binary64 matrix
products that carry several output channels in one number ("lanes"); the result is the exact
integer, for these reasons:

- Bits enter as 0 and 1 and weights as ``a(w)`` (+-1). With ``a(b) = 2b - 1``,
  ``a(b)*a(w) = 2*b*a(w) - a(w)``, so ``s = 2*u - sum(a(w))`` with ``u = sum(b * a(w))``; the
  second sum depends on the output channel only (``ConvWeights.bias``), and ``|u| <= n``.
- Lanes: with ``e = bit_length(n) + 1`` (so ``n < 2**(e - 1)``), a format with a ``p``-bit
  significand (24 for binary32, 53 for binary64) carries up to ``L = p // e`` lanes. A packed
  weight row is ``sum_l 2**(e*l) * a(w[channel l*P + o])``, so one product column holds
  ``v = sum_l 2**(e*l) * u_l``, ``u_l`` the sum ``u`` of channel ``l*P + o``. Every product (a
  packed row entry times 0 or 1) and every partial sum, in whatever order or blocking the BLAS
  chooses and through the shifted adds below, is ``sum_l 2**(e*l) * u'_l`` with each ``u'_l`` a
  sum of some of the ``n`` terms of its lane, so an integer with ``|u'_l| <= n``; its magnitude
  is below ``2**(e*L - 1) * 2**e / (2**e - 1) < 2**(e*L) <= 2**p``. Integers below ``2**p`` are
  values of the format and a sum (or fused multiply-add) of them whose result is below ``2**p``
  is exact, so no step rounds. ``L = 1`` is the plain product; binary32 always has a lane
  (``n <= N_MAX < 2**23``), binary64 at least three.
- Unpacking: ``q = rint(v * 2**-e)`` is ``(v - u_0) / 2**e`` because ``|u_0| < 2**(e - 1)``
  (``v * 2**-e`` is exact and lies within ``1/2`` of that integer), so ``u_0 = v - q * 2**e``,
  exactly; repeating on ``q`` gives ``u_1`` and so on, and the last lane is what remains. Then
  ``s = 2*u - bias`` is exact (``|s| <= 3n < 2**24``) and converts exactly to int16 (ACC-3).
- Which format: a binary64 product costs about two binary32 ones here, and its input twice the
  bytes; :class:`ConvWeights` takes the format with fewer bytes per lane (binary32 on a tie).
  Every choice gives the same ``s``.
- Phases and shifts: tap ``(ky, kx)`` of output ``(y, x)`` reads padded row
  ``y*stride + ky*dilation = (y + qy)*stride + py`` with ``qy = (ky*dilation) // stride`` and
  ``py = (ky*dilation) % stride`` (columns alike). The padded input is split into its phases
  ``xp[py::stride, px::stride]``, each laid out as a matrix ``[Cin/g, images * rows * Wq]`` of
  rows of one width ``Wq``; one product per phase and group gives every tap of the phase at every
  position, and output ``(y, x)`` takes tap ``(qy, qx)``'s product at flat position
  ``(y + qy)*Wq + x + qx``: a shift of the flat index by ``qy*Wq + qx``. Positions with
  ``x >= Wo`` or ``y >= Ho`` are computed from other pixels (or zeros) and discarded.
- Threads: the images are split into chunks; a chunk's sums for one group depend on its own
  images and the group's weights only and are written to their own block of ``s``, and every
  value above is exact, so the (chunk, group) parts may run on the worker threads of
  ``boolnet_spec.reference.threads`` in any order with the same ``s``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from boolnet_spec.reference.accumulator import ACC_DTYPE, check_n
from boolnet_spec.reference.channels import flatten_slices
from boolnet_spec.reference.encoding import BIT_DTYPE, check_bits, to_pm1
from boolnet_spec.reference.errors import DomainError, ShapeError, error_if
from boolnet_spec.reference.padding import check_padding, fill_padded
from boolnet_spec.reference.threads import run_parts, workers

__all__ = ["conv_output_size", "ConvWeights", "binary_conv2d", "select_slices",
           "multi_slice_conv2d"]


#: ``then(s, images, channels)``: called with each finished block ``s[images, channels]``.
Finished = Callable[[np.ndarray, slice, slice], None]


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """CONV-2 for one spatial axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _check_positive(value: int, name: str) -> None:
    error_if(not isinstance(value, (int, np.integer)) or value < 1, DomainError, name,
             "an integer >= 1", repr(value), "CONV-3")


class ConvWeights:
    """The weight bits of one binary convolution, laid out once for CONV-1's evaluation.

    ``dtype`` (float32 or float64) and ``lanes`` (``1 <= L <= p // e``) choose the formulation of
    the evaluation note of this chapter; ``None`` takes the format with fewer bytes per lane and
    its most lanes. ``phases[(py, px)] = (taps, matrix)``: the taps ``(qy, qx)`` of one input
    phase and
    ``matrix[g, t*P + o, i] = sum_l 2**(e*l) * a(w[g*Cout/g + l*P + o, i, ky, kx])`` for the
    phase's ``t``-th tap ``(ky, kx)``, with ``P = ceil(Cout/g / L)`` rows per tap and
    ``a(w) = 0`` for the channels ``>= Cout/g`` that pad the last lane; ``bias[g, o]`` is the sum
    of the ``n`` values ``a(w)`` of output channel ``g*Cout/g + o``. A layer that runs many
    batches prepares its weights once; :func:`binary_conv2d` accepts either form.
    """

    def __init__(self, weight: np.ndarray, stride: int = 1, dilation: int = 1, groups: int = 1,
                 name: str = "conv", dtype: type | None = None, lanes: int | None = None):
        self.bits = check_bits(weight, f"{name}.weight")
        error_if(self.bits.ndim != 4, ShapeError, f"{name}.weight",
                 "rank 4 [Cout, Cin/groups, kh, kw]", list(self.bits.shape), "CONV-3")
        for value, what in ((stride, "stride"), (dilation, "dilation"), (groups, "groups")):
            _check_positive(value, f"{name}.{what}")
        self.stride, self.dilation, self.groups = stride, dilation, groups
        cout, cin_group, kh, kw = self.bits.shape
        error_if(cout % groups, ShapeError, f"{name}.weight",
                 f"Cout a multiple of groups = {groups}", cout, "CONV-3")
        cout_group = cout // groups
        n = check_n(cin_group * kh * kw, f"{name} dot-product length n")
        self.lane_bits = n.bit_length() + 1                        # n < 2**(lane_bits - 1)
        most = {np.dtype(t): _SIGNIFICAND[np.dtype(t)] // self.lane_bits for t in _SIGNIFICAND}
        if dtype is None:  # the fewest bytes per sum; a binary64 product costs about two binary32
            dtype = min(most, key=lambda t: (t.itemsize / max(most[t], 1), t.itemsize))
        self.dtype = np.dtype(dtype)
        error_if(self.dtype not in most or most[self.dtype] < 1, DomainError, f"{name} dtype",
                 "float32 or float64", f"{self.dtype} for n = {n}", "CONV-1")
        self.lanes = most[self.dtype] if lanes is None else lanes
        error_if(not 1 <= self.lanes <= most[self.dtype], DomainError, f"{name} lanes",
                 f"1 <= lanes <= {most[self.dtype]} for {self.dtype} and n = {n}", self.lanes,
                 "CONV-1")
        pm1 = to_pm1(self.bits, f"{name}.weight").astype(np.float64)
        pm1 = pm1.reshape(groups, cout_group, cin_group, kh * kw)
        self.bias = pm1.sum(axis=(2, 3)).astype(self.dtype)       # exact: |sum| <= n
        # Output channel l*P + o of a group is lane l of packed row o (zero rows pad Cout/g).
        self.packed_rows = -(-cout_group // self.lanes)
        padded = np.zeros((groups, self.lanes * self.packed_rows, cin_group, kh * kw))
        padded[:, :cout_group] = pm1
        scale = 2.0 ** (self.lane_bits * np.arange(self.lanes))
        matrices = np.einsum("glpik,l->gpik", padded.reshape(groups, self.lanes,
                                                             self.packed_rows, cin_group,
                                                             kh * kw), scale)
        taps_of: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for ky in range(kh):
            for kx in range(kw):
                taps_of.setdefault(((ky * dilation) % stride, (kx * dilation) % stride),
                                   []).append((ky, kx))
        self.phases = {}
        for phase, taps in taps_of.items():
            index = [ky * kw + kx for ky, kx in taps]
            matrix = matrices[:, :, :, index].transpose(0, 3, 1, 2)  # [g, taps, P, Cin/g]
            self.phases[phase] = ([(ky * dilation // stride, kx * dilation // stride)
                                   for ky, kx in taps],
                                  np.ascontiguousarray(matrix.reshape(groups, -1, cin_group),
                                                       self.dtype))

    def accumulate(self, x: np.ndarray, padding: int, pad_mode: str, out_h: int, out_w: int,
                   name: str = "conv", then: Finished | None = None) -> np.ndarray:
        """Int16 ``s[N, Cout, Ho, Wo]`` of the input bits (CONV-1, evaluated as noted); ``then``
        as in :func:`binary_conv2d`."""
        # With stride 1 the one phase is the padded input, padded straight into the grid; without
        # padding it is the input itself, converted straight into the product's operand.
        fused = self.stride == 1
        direct = fused and not padding
        batch, _, pad_h, pad_w = x.shape
        pad_h, pad_w = pad_h + 2 * padding, pad_w + 2 * padding
        cout, cin_group = self.bits.shape[:2]
        cout_group, stride = cout // self.groups, self.stride
        grid_h, grid_w = -(-pad_h // stride), -(-pad_w // stride)   # one phase of the input
        plane = grid_h * grid_w
        tail = max(qy * grid_w + qx for taps, _ in self.phases.values() for qy, qx in taps)
        rows = max(matrix.shape[1] for _, matrix in self.phases.values())
        # Images per product: columns enough to keep BLAS busy, operands within _PRODUCT_BYTES,
        # and chunks enough for every thread of the budget.
        lanes, lane_bits, packed_rows = self.lanes, self.lane_bits, self.packed_rows
        chunk = max(1, min(self._images_per_part(batch),
                           (_PRODUCT_BYTES // (self.dtype.itemsize * (rows + cin_group)) - tail)
                           // plane))
        out = np.empty((batch, cout, out_h, out_w), ACC_DTYPE)
        block = max(1024, _ADD_BLOCK_BYTES // (self.dtype.itemsize * packed_rows))
        parts = [(first, g) for first in range(0, batch, chunk) for g in range(self.groups)]
        # Each worker's buffers, reused by all its products and made on this thread, whose freed
        # memory is reused: a fresh large array in a worker would be faulted in page by page.
        buffers = [(None if direct else np.empty(cin_group * chunk * plane, BIT_DTYPE),
                    None if fused else np.empty(cin_group * chunk * pad_h * pad_w, BIT_DTYPE),
                    np.empty(cin_group * (chunk * plane + tail), self.dtype),
                    np.empty(rows * (chunk * plane + tail), self.dtype),
                    np.empty(3 * packed_rows * chunk * plane, self.dtype),
                    np.empty(lanes * packed_rows * chunk * plane, self.dtype))
                   for _ in range(workers(len(parts)))]

        def work(worker: int, share: list[tuple[int, int]]) -> None:
            (bits_buffer, pad_buffer, x01_buffer, products_buffer, acc_buffer,
             lane_buffer) = buffers[worker]
            for first, g in share:
                images = min(chunk, batch - first)
                columns = images * plane
                x01 = _leading(x01_buffer, cin_group, columns + tail)
                acc, quotient, scratch = _leading(acc_buffer, 3, packed_rows, columns)
                x01[:, columns:] = 0
                # The grid is laid out in bytes, then converted in one contiguous pass.
                grid = None if direct else _leading(bits_buffer, cin_group, images, grid_h,
                                                    grid_w)
                inputs = x[first:first + images, g * cin_group:(g + 1) * cin_group]
                if not fused:  # padded on this worker (checked by binary_conv2d), then phases
                    padded = _leading(pad_buffer, images, cin_group, pad_h, pad_w)
                    fill_padded(inputs, padding, pad_mode, padded)
                    inputs = padded
                started = False
                for (py, px), (taps, matrix) in self.phases.items():
                    # x01[i, image, r, c] = padded bit at row r*stride + py, column c*stride + px;
                    # grid positions beyond the input (and the tail) only feed discarded outputs.
                    source = inputs[:, :, py::stride, px::stride].transpose(1, 0, 2, 3)
                    if direct:
                        np.copyto(x01[:, :columns].reshape(source.shape), source)
                    elif fused:
                        fill_padded(source, padding, pad_mode, grid)
                    else:
                        rows_in, cols_in = source.shape[2:]
                        grid[:, :, rows_in:] = 0
                        grid[:, :, :, cols_in:] = 0
                        grid[:, :, :rows_in, :cols_in] = source
                    if not direct:
                        np.copyto(x01[:, :columns], grid.reshape(cin_group, columns))
                    products = np.matmul(matrix[g], x01, out=_leading(
                        products_buffer, matrix.shape[1], columns + tail))
                    # Shifted adds a block of columns at a time, so the block stays in cache.
                    for low in range(0, columns, block):
                        high = min(columns, low + block)
                        for t, (qy, qx) in enumerate(taps):
                            shift = qy * grid_w + qx
                            part = products[t * packed_rows:(t + 1) * packed_rows,
                                            low + shift:high + shift]
                            if not started and t == 0:
                                np.copyto(acc[:, low:high], part)
                            else:
                                acc[:, low:high] += part
                    started = True
                # Unpack: u_l = v - 2**e * rint(v * 2**-e), then v = that quotient.
                lane_sums = _leading(lane_buffer, lanes, packed_rows, columns)
                for lane in range(lanes - 1):
                    np.multiply(acc, 2.0 ** -lane_bits, out=quotient)
                    np.rint(quotient, out=quotient)
                    np.multiply(quotient, 2.0 ** lane_bits, out=scratch)
                    np.subtract(acc, scratch, out=lane_sums[lane])
                    acc, quotient = quotient, acc
                lane_sums[lanes - 1] = acc
                sums = lane_sums.reshape(lanes * packed_rows, columns)[:cout_group]
                sums *= 2                                           # s = 2*u - bias
                sums -= self.bias[g][:, None]
                result = sums.reshape(cout_group, images, grid_h, grid_w)[:, :, :out_h, :out_w]
                np.copyto(out[first:first + images, g * cout_group:(g + 1) * cout_group],
                          result.transpose(1, 0, 2, 3), casting="unsafe")
                if then is not None:
                    then(out, slice(first, first + images),
                         slice(g * cout_group, (g + 1) * cout_group))

        run_parts(work, parts)  # the parts write disjoint blocks of s: any schedule, the same s
        return out


    def _images_per_part(self, batch: int) -> int:
        """Images per part at most: all, unless the groups are too few to give every worker one."""
        count = workers(batch * self.groups)
        return batch if self.groups >= count else -(-batch // max(1, count // self.groups))

def _leading(buffer: np.ndarray, *shape: int) -> np.ndarray:
    """The first elements of a flat buffer as a contiguous array (a BLAS call writes a strided
    output through a copy)."""
    return buffer[:math.prod(shape)].reshape(shape)


#: The significand bits of the product dtypes: sums of integers below 2**bits are exact.
_SIGNIFICAND = {np.dtype(np.float32): 24, np.dtype(np.float64): 53}
#: The operands of one BLAS call, in bytes at most (bounds the memory of an evaluation).
_PRODUCT_BYTES = 1 << 23
#: The accumulators of one block of shifted adds, in bytes (a block stays in the core's cache).
_ADD_BLOCK_BYTES = 1 << 19


def binary_conv2d(x: np.ndarray, weight: np.ndarray | ConvWeights, stride: int = 1,
                  padding: int = 0, dilation: int = 1, groups: int = 1,
                  pad_mode: str = "replicate", name: str = "conv",
                  then: Finished | None = None) -> np.ndarray:
    """Int16 accumulators ``s[N, Cout, Ho, Wo]`` of a grouped binary convolution (CONV-1).

    ``weight`` is a bit tensor or its :class:`ConvWeights` (prepared once per layer). ``then``
    (optional) is called as ``then(s, images, channels)``, with two slices, once per finished
    block ``s[images, channels]``, on the thread that computed it and while the block is in its
    cache: a consumer of some channels of some images (a threshold, a pooling) can run there."""
    for value, what in ((stride, "stride"), (dilation, "dilation"), (groups, "groups")):
        _check_positive(value, f"{name}.{what}")
    check_padding(padding, pad_mode)
    x = check_bits(x, f"{name} input")
    prepared = weight if isinstance(weight, ConvWeights) else None
    weight = prepared.bits if prepared is not None else check_bits(weight, f"{name}.weight")
    error_if(x.ndim != 4, ShapeError, f"{name} input", "rank 4 [N, Cin, H, W]", list(x.shape),
             "CONV-3")
    error_if(weight.ndim != 4, ShapeError, f"{name}.weight", "rank 4 [Cout, Cin/groups, kh, kw]",
             list(weight.shape), "CONV-3")
    _, cin, height, width = x.shape
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
    if prepared is None or (prepared.stride, prepared.dilation, prepared.groups) != (
            stride, dilation, groups):
        prepared = ConvWeights(weight, stride, dilation, groups, name)
    return prepared.accumulate(x, padding, pad_mode, out_h, out_w, name, then)


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


def multi_slice_conv2d(x: np.ndarray, weight: np.ndarray | ConvWeights, stride: int = 1,
                       padding: int = 0, dilation: int = 1, groups: int = 1,
                       pad_mode: str = "replicate", name: str = "conv",
                       then: Finished | None = None) -> np.ndarray:
    """The authors' ``MultiBConv`` on bits: CONV-4 then CONV-1 (``then`` as in
    :func:`binary_conv2d`)."""
    return binary_conv2d(select_slices(x, groups, f"{name} input"), weight, stride, padding,
                         dilation, groups, pad_mode, name, then)
