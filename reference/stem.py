"""Stem: the real-valued first layers that turn an image into the first bit feature map.

.. req:: STEM-1

   The input is a float32 image batch ``[N, 3, H, W]``. ``ERROR_IF`` it is not float32 of rank 4
   with 3 channels, or holds NaN or an infinity
   (:class:`~boolnet_spec.reference.errors.DTypeError`,
   :class:`~boolnet_spec.reference.errors.ShapeError`,
   :class:`~boolnet_spec.reference.errors.NonFiniteError`).

.. req:: STEM-2

   Real convolution (the stem's ``conv1``: 7x7, stride 2, padding 3, 3 -> 64 channels, no bias; and
   the depthwise 3x3 convolution of local adaptive shifting: stride 1, padding 1, ``groups = C``)
   pads with zeros and is evaluated in binary64 on the float32 weights. The order of the sum of the
   ``m`` products of one output is implementation-defined, so an evaluation may differ from the
   exact sum of its (rounded) products by up to ``gamma(m - 1) * sum(|x_i * w_i|)`` with
   ``gamma(k) = k*u / (1 - k*u)``, ``u = 2**-53``, and two conforming evaluations by twice that.
   The stem conv's products are exact (float32 times float32, far above binary64's underflow); the
   depthwise conv reads binary64 values, so its products round too (``gamma(m)`` in place of
   ``gamma(m - 1)``, plus ``2**-1074`` per operation for gradual underflow).

.. req:: STEM-3

   Features: ``f = real_maxpool(BN0(conv1(image)), 3, 2, 1)`` (BN-3, POOL-3), the authors'
   ``conv1`` followed by ``maxpool = Sequential(BatchNorm2d, MaxPool2d(3, 2, 1))``.

.. req:: STEM-4

   BaseNet: the first bits are ``slice_quantize(BN(f), o)`` (SLICE-2), the authors'
   ``ghostbnsign = Sequential(BatchNorm2d, GhostSign)``.

.. req:: STEM-5

   BoolNet (local adaptive shifting, the authors' ``GhostBNSign(binary=False)``): the first bits are
   ``slice_quantize(BN1(f) + BN_las(dwconv3x3(BN2(f))), o)`` with the depthwise convolution of
   STEM-2 and no binarization of its input.

Evaluation. :func:`stem_features` pools before BatchNorm, image by image, and is bit for bit
STEM-3: with ``r > 0``, each rounded operation of BN-3 (``x - mean``, ``/ r``, ``* gamma``,
``+ beta``) is monotone in ``x``, non-decreasing except the product with a negative ``gamma``,
and rounding to nearest is non-decreasing; so the window maximum of ``BN0(v)`` is ``BN0(max v)``
where ``gamma >= 0`` and ``BN0(min v)`` where ``gamma < 0``. There ``min v = -max(-v)``, and
``-v`` is the conv with negated float32 weights: the same products and sums of negated operands,
which round to the negated results (round to nearest is symmetric). Only the sign of a zero can
differ, and no later operation turns ``-0`` and ``+0`` into different non-zero values or bits
(ENC-2). Images are evaluated one at a time, the per-channel steps (pooling, BatchNorm, the
depthwise conv) a block of channels at a time, by the same operations whichever worker thread of
``boolnet_spec.reference.threads`` runs them; a worker's matrix product gets one BLAS thread.
Where a BLAS splits a product's sums by thread count, STEM-2's bound covers the difference;
OpenBLAS splits rows and columns, never a sum, and a test pins one thread to several bit for bit.
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.batchnorm import BatchNorm, check_float32
from boolnet_spec.reference.errors import ShapeError, error_if
from boolnet_spec.reference.maxpool import real_maxpool
from boolnet_spec.reference.slices import slice_quantize
from boolnet_spec.reference.threads import run_parts

__all__ = ["real_conv2d", "check_image", "stem_features", "basenet_stem", "boolnet_stem"]


def check_image(image: np.ndarray) -> np.ndarray:
    """STEM-1."""
    image = np.asarray(image)
    error_if(image.ndim != 4 or image.shape[1] != 3, ShapeError, "image", "shape [N, 3, H, W]",
             list(image.shape), "STEM-1")
    error_if(min(image.shape) < 1, ShapeError, "image", "a non-empty batch [N >= 1, 3, H >= 1, "
             "W >= 1]", list(image.shape), "ERR-5")
    return check_float32(image, "image", image.shape, "STEM-1")


def real_conv2d(x: np.ndarray, weight: np.ndarray, stride: int, padding: int,
                groups: int = 1) -> np.ndarray:
    """Zero-padded convolution in binary64 (STEM-2); ``weight[Cout, Cin/groups, kh, kw]``."""
    batch, cin, height, width = x.shape
    cout, cin_group, kh, kw = weight.shape
    error_if(cin != cin_group * groups or cout % groups, ShapeError, "real conv weight",
             f"[Cout, Cin/groups = {cin // groups}, kh, kw] with groups = {groups}",
             list(weight.shape), "STEM-2")
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    pad_h, pad_w = height + 2 * padding, width + 2 * padding
    w = weight.astype(np.float64)
    if groups == cin == cout and stride == 1:
        # Depthwise: one multiply-add per tap, in tap order. Tap (ky, kx) of output (y, x) is the
        # padded plane's flat element (y + ky)*Wp + x + kx: outputs are computed on rows of the
        # padded width Wp (columns from out_w on are discarded), each tap a shifted flat run.
        # Channels a block at a time, so that a block's planes stay in the core's cache.
        flat = np.zeros((batch, cout, pad_h * pad_w + kw - 1))
        flat[:, :, :pad_h * pad_w].reshape(batch, cout, pad_h, pad_w)[
            :, :, padding:padding + height, padding:padding + width] = x
        length = out_h * pad_w
        out = np.zeros((batch, cout, length))
        step = max(1, _DEPTHWISE_BYTES // (8 * batch * length))
        product = np.empty((batch, min(step, cout), length))
        for low in range(0, cout, step):
            high = min(cout, low + step)
            block, scratch = out[:, low:high], product[:, :high - low]
            for ky in range(kh):
                for kx in range(kw):
                    tap = flat[:, low:high, ky * pad_w + kx:ky * pad_w + kx + length]
                    block += np.multiply(tap, w[None, low:high, 0, ky, kx, None], out=scratch)
        return out.reshape(batch, cout, out_h, pad_w)[..., :out_w]
    padded = np.zeros((batch, cin, pad_h, pad_w))
    padded[:, :, padding:padding + height, padding:padding + width] = x
    if groups == cin == cout:
        out = np.zeros((batch, cout, out_h, out_w))
        product = np.empty_like(out)
        for ky in range(kh):
            for kx in range(kw):
                tap = padded[:, :, ky:ky + stride * (out_h - 1) + 1:stride,
                             kx:kx + stride * (out_w - 1) + 1:stride]
                out += np.multiply(tap, w[None, :, 0, ky, kx, None, None], out=product)
        return out
    cout_group = cout // groups
    # Patch order (ky, kx, c): w[o, (ky, kx, c)] times patches[(ky, kx, c), (y, x)], one image,
    # group and block of output rows at a time, so that a block's patches stay in the cache.
    w = w.reshape(groups, cout_group, cin_group, kh, kw).transpose(0, 1, 3, 4, 2)
    w = np.ascontiguousarray(w.reshape(groups, cout_group, -1))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride][:, :, :out_h, :out_w]  # [N, Cin, Ho, Wo, kh, kw]
    out = np.empty((batch, cout, out_h, out_w))
    step = max(1, min(out_h, _PATCH_BYTES // (8 * kh * kw * cin_group * out_w)))
    patches = np.empty((kh, kw, cin_group, step, out_w))
    products = np.empty((cout_group, step * out_w))
    for b in range(batch):
        for g in range(groups):
            group = windows[b, g * cin_group:(g + 1) * cin_group]
            for low in range(0, out_h, step):
                rows = min(step, out_h - low)
                block = patches[:, :, :, :rows]
                np.copyto(block, group[:, low:low + rows].transpose(3, 4, 0, 1, 2))
                result = np.matmul(w[g], block.reshape(kh * kw * cin_group, -1),
                                   out=products[:, :rows * out_w])
                out[b, g * cout_group:(g + 1) * cout_group, low:low + rows] = \
                    result.reshape(cout_group, rows, out_w)
    return out


#: The bytes of the patches of one matrix product of a real convolution (a block of rows).
_PATCH_BYTES = 1 << 20
#: The bytes of the output planes one step of the depthwise conv works on (with its input and
#: products, they stay in the core's cache).
_DEPTHWISE_BYTES = 1 << 18
#: The bytes of the conv planes one step of the stem's pooling works on.
_POOL_BYTES = 1 << 20


def _channel_blocks(channels: int, step: int) -> list[slice]:
    return [slice(low, min(channels, low + step)) for low in range(0, channels, step)]


def stem_features(image: np.ndarray, conv_weight: np.ndarray, bn0: BatchNorm) -> np.ndarray:
    """``real_maxpool(BN0(conv1(image)), 3, 2, 1)`` in binary64 (STEM-3), evaluated image by
    image with the pooling before BatchNorm (see the evaluation note of this chapter)."""
    image = check_image(image)
    conv_weight = check_float32(conv_weight, "conv1.weight", (bn0.channels, 3, 7, 7), "STEM-2")
    # A channel whose BatchNorm slope is negative pools the negated conv, then negates it back.
    flip = np.where(bn0.gamma < 0, np.float32(-1), np.float32(1))
    flipped = conv_weight * flip[:, None, None, None]                  # exact negations
    batch = image.shape[0]
    out_h, out_w = (image.shape[2] - 1) // 2 + 1, (image.shape[3] - 1) // 2 + 1  # conv1, 7/2/3
    features = np.empty((batch, bn0.channels, (out_h - 1) // 2 + 1, (out_w - 1) // 2 + 1))

    signs = flip.astype(np.float64)[None, :, None, None]
    step = max(1, _POOL_BYTES // (8 * out_h * out_w))  # channels pooled per step
    blocks = [(block, bn0.select(block)) for block in _channel_blocks(bn0.channels, step)]

    def work(worker: int, images: list[int]) -> None:
        for first in images:
            conv = real_conv2d(image[first:first + 1], flipped, stride=2, padding=3)
            for block, bn in blocks:  # each channel alone, a block at a time
                pooled = real_maxpool(conv[:, block], 3, 2, 1)
                pooled *= signs[:, block]
                features[first:first + 1, block] = bn(pooled)

    run_parts(work, range(batch))  # images are independent: the same features on any thread
    return features


def basenet_stem(features: np.ndarray, bn: BatchNorm, offsets: np.ndarray) -> np.ndarray:
    """BaseNet's first bits ``[N, S, C, H, W]`` (STEM-4)."""
    return slice_quantize(bn(features), offsets, "stem pre-activation")


def boolnet_stem(features: np.ndarray, bn1: BatchNorm, bn2: BatchNorm, dw_weight: np.ndarray,
                 bn_las: BatchNorm, offsets: np.ndarray) -> np.ndarray:
    """BoolNet's first bits with local adaptive shifting (STEM-5), image by image."""
    channels = features.shape[1]
    dw_weight = check_float32(dw_weight, "adaptive_zero_points.0.weight", (channels, 1, 3, 3),
                              "STEM-2")
    z = np.empty(features.shape)

    step = max(1, _DEPTHWISE_BYTES // (8 * features[0, 0].size))
    blocks = [(block, bn1.select(block), bn2.select(block), bn_las.select(block))
              for block in _channel_blocks(channels, step)]

    def work(worker: int, images: list[int]) -> None:
        for first in images:
            for block, bn1_, bn2_, bn_las_ in blocks:  # each channel alone, a block at a time
                f = features[first:first + 1, block]
                shift = bn_las_(real_conv2d(bn2_(f), dw_weight[block], stride=1, padding=1,
                                            groups=f.shape[1]))
                np.add(bn1_(f), shift, out=z[first:first + 1, block])

    run_parts(work, range(features.shape[0]))
    return slice_quantize(z, offsets, "stem pre-activation")
