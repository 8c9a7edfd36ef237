"""Errors: one typed exception per class of bad input, with tensor, bound, value and label."""

import itertools
from fractions import Fraction

import numpy as np
import pytest

from boolnet_spec.reference import fold as fold_module
from boolnet_spec.reference.accumulator import N_MAX, check_n, domain
from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.encoding import check_bits, from_pm1
from boolnet_spec.reference.errors import (
    BoundError,
    DomainError,
    DTypeError,
    FormatError,
    NonBinaryError,
    NonFiniteError,
    ShapeError,
    SpecError,
    error_if,
)
from boolnet_spec.reference.fold import fold_bn_sign
from boolnet_spec.reference.threshold import ThresholdUnits, threshold_slices
from boolnet_spec.reference.weights import weight_scale

CLASSES = [DTypeError, ShapeError, NonBinaryError, NonFiniteError, DomainError, BoundError,
           FormatError]


def column(*values):
    return np.array(values, np.float32)


def batchnorm(var=(1.0,), eps=1e-5, mean=None):
    ones = [1.0] * len(var)
    return BatchNorm(column(*ones), column(*ones), column(*(mean or ones)), column(*var), eps)


def canonical_units():
    return ThresholdUnits(np.ones((1, 2), np.uint8), np.array([[-3, 1]], np.int16), 3)


# (id, call, class, tensor, fragment of the bound, fragment of the value, label)
BAD_INPUTS = [
    ("bits-int8", lambda: check_bits(np.array([0, 1], np.int8), "x"), DTypeError, "x",
     "dtype uint8", "int8", "ENC-5"),
    ("bn-float64", lambda: BatchNorm(np.ones(1), column(0.0), column(0.0), column(1.0)),
     DTypeError, "bn.weight", "dtype float32", "float64", "BN-2"),
    ("units-int32", lambda: ThresholdUnits(np.ones((1, 1), np.uint8),
                                           np.zeros((1, 1), np.int32), 2),
     DTypeError, "threshold.threshold", "dtype int16", "int32", "THR-4"),
    ("bits-two", lambda: check_bits(np.array([0, 2], np.uint8), "x"), NonBinaryError, "x",
     "bits in {0, 1}", "at index [1]", "ENC-5"),
    ("ternary-zero", lambda: from_pm1(np.sign(np.array([1.0, 0.0])), "act"), NonBinaryError,
     "act", "torch.sign", "at index [1]", "ENC-4"),
    ("mean-nan", lambda: batchnorm(mean=(np.nan,)), NonFiniteError, "bn.running_mean",
     "finite values", "nan", "BN-2"),
    ("var-inf", lambda: batchnorm(var=(np.inf,)), NonFiniteError, "bn.running_var",
     "finite values", "inf", "BN-2"),
    ("eps-nan", lambda: batchnorm(eps=float("nan")), NonFiniteError, "bn.eps",
     "finite binary64", "nan", "BN-2"),
    ("var-eps-zero", lambda: batchnorm(var=(0.0,), eps=0.0), DomainError, "bn.running_var",
     "running_var + eps > 0", "at index [0]", "BN-2"),
    ("eps-negative", lambda: batchnorm(var=(1.0, 1e-6), eps=-1e-5), DomainError,
     "bn.running_var", "eps = -1e-05", "at index [1]", "BN-2"),
    ("var-negative", lambda: batchnorm(var=(-0.5,)), DomainError, "bn.running_var",
     "running_var + eps > 0", "-0.5", "BN-2"),
    ("n-zero", lambda: check_n(0), BoundError, "n", f"N_MAX = {N_MAX}", "0", "ACC-3"),
    ("n-above", lambda: domain(N_MAX + 1), BoundError, "n", "1 <= n", str(N_MAX + 1), "ACC-3"),
    ("n-float", lambda: check_n(3.0), DTypeError, "n", "integer dot-product length", "float",
     "ACC-3"),
    ("bn-shapes", lambda: BatchNorm(column(1.0), column(0.0, 0.0), column(0.0), column(1.0)),
     ShapeError, "bn.bias", "shape [1]", "[2]", "BN-2"),
    ("units-shapes", lambda: ThresholdUnits(np.ones((1, 2), np.uint8),
                                            np.zeros((2, 1), np.int16), 2),
     ShapeError, "threshold.polarity/threshold", "one shape", "(1, 2) and (2, 1)", "THR-4"),
    ("s-shape", lambda: threshold_slices(np.zeros((1, 3, 1, 1), np.int16), canonical_units()),
     ShapeError, "s", "shape [N, 2, H, W]", "(1, 3, 1, 1)", "THR-5"),
    ("alpha-zero", lambda: fold_bn_sign(batchnorm(), 3, column(0.0)), DomainError, "bn alpha",
     "alpha > 0", "0.0", "FOLD-1"),
    ("alpha-negative", lambda: fold_bn_sign(batchnorm(), 3, column(-2.0)), DomainError,
     "bn alpha", "alpha > 0", "-2.0", "FOLD-1"),
    ("zero-filter", lambda: weight_scale(np.zeros((2, 1, 1, 1), np.float32), "w"), DomainError,
     "w scale alpha", "alpha > 0", "channel 0", "WB-3"),
    ("non-canonical", lambda: ThresholdUnits(np.zeros((1, 2), np.uint8),
                                             np.array([[-3, 3]], np.int16), 3),
     DomainError, "threshold", "canonical units for n = 3", "(polarity 0, t 3) at [0, 1]",
     "THR-4"),
]


@pytest.mark.req("ERR-1", "ERR-2")
@pytest.mark.parametrize("call, error, tensor, bound, value, label",
                         [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_raises_its_typed_error(call, error, tensor, bound, value, label):
    with pytest.raises(SpecError) as info:
        call()
    raised = info.value
    assert type(raised) is error
    assert (raised.tensor, raised.label) == (tensor, label)
    assert bound in raised.bound
    assert value in str(raised.value)
    assert str(raised) == f"{tensor}: expected {raised.bound}, got {raised.value} [{label}]"


@pytest.mark.req("ERR-1")
def test_fold_validates_before_folding_any_channel(monkeypatch):
    def unit(*args, **kwargs):
        raise AssertionError("a unit was folded before the inputs were validated")

    monkeypatch.setattr(fold_module.ChannelFold, "unit", unit)
    bn = BatchNorm(column(1.0, 1.0), column(0.0, 0.0), column(0.0, 0.0), column(1.0, 1.0))
    with pytest.raises(DomainError):
        fold_bn_sign(bn, 3, column(1.0, 0.0))
    with pytest.raises(NonFiniteError):
        fold_bn_sign(bn, 3, offsets=column(0.0, np.nan))
    with pytest.raises(BoundError):
        fold_bn_sign(bn, N_MAX + 1)


@pytest.mark.req("ERR-2")
def test_classes_are_disjoint_spec_errors():
    for error in CLASSES:
        assert issubclass(error, SpecError)
        assert issubclass(error, ValueError)
    for one, other in itertools.permutations(CLASSES, 2):
        assert not issubclass(one, other), (one, other)
    assert issubclass(DTypeError, TypeError)


@pytest.mark.req("ERR-1")
@pytest.mark.parametrize("error", CLASSES)
def test_message_names_tensor_bound_value_and_ends_with_label(error):
    raised = error("bn.running_var", "running_var + eps > 0", Fraction(-1, 3), "BN-2")
    assert str(raised) == "bn.running_var: expected running_var + eps > 0, got -1/3 [BN-2]"
    assert (raised.tensor, raised.bound, raised.value, raised.label) == (
        "bn.running_var", "running_var + eps > 0", Fraction(-1, 3), "BN-2")


@pytest.mark.req("ERR-1")
def test_error_if_raises_only_when_its_condition_holds():
    error_if(False, BoundError, "n", "n >= 1", 0, "ACC-3")
    with pytest.raises(BoundError, match=r"^n: expected n >= 1, got 0 \[ACC-3\]$"):
        error_if(True, BoundError, "n", "n >= 1", 0, "ACC-3")


@pytest.mark.req("ERR-4")
def test_error_if_evaluates_a_callable_message_part_only_when_it_raises():
    calls = []

    def expensive():
        calls.append(1)
        return "the first bad element"

    error_if(False, BoundError, "n", lambda: "n >= 1", expensive, "ACC-3")
    assert calls == []
    with pytest.raises(BoundError, match=r"^n: expected n >= 1, got the first bad element"):
        error_if(True, BoundError, "n", lambda: "n >= 1", expensive, "ACC-3")
    assert calls == [1]
