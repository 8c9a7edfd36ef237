"""Class 8 of issue 12: a seed or count outside its range is a typed one-line error before any
work (LIMIT-1), never a traceback of the random generator."""

from __future__ import annotations

import pytest
from hostile import assert_typed_error, small_state_dict_file

import boolnet_spec.reference.build
from boolnet_spec.reference.errors import BoundError, DomainError
from boolnet_spec.reference.limits import MAX_SEED, check_seed

pytestmark = pytest.mark.req("LIMIT-1", "ERR-5")

RANDOM = ["build", "--config=boolnet-k4", "--random", "--widths=8,16", "--blocks=1,1",
          "--image-size=32", "--classes=3"]


@pytest.mark.parametrize("seed, fragment", [("-5", ">= 0"), (str(2 ** 32), str(MAX_SEED)),
                                            (str(-(2 ** 70)), ">= 0"), (str(2 ** 64), "at most")])
def test_build_random_refuses_a_seed_out_of_range_before_any_work(tmp_path, capsys, monkeypatch,
                                                                  seed, fragment):
    monkeypatch.setattr(boolnet_spec.reference.build, "random_state_dict",
                        lambda *a, **k: pytest.fail("started"))
    assert_typed_error(capsys, *RANDOM, f"--seed={seed}", "-o", tmp_path / "m.bsm",
                       fragments=("--seed", fragment))
    assert not (tmp_path / "m.bsm").exists()


@pytest.mark.parametrize("seed", ["-1", str(2 ** 33), str(-(10 ** 30))])
def test_compare_refuses_a_seed_out_of_range(tmp_path, capsys, seed):
    pytest.importorskip("torch")
    assert_typed_error(capsys, "compare", small_state_dict_file(tmp_path), "--config=boolnet-k4",
                       f"--seed={seed}", fragments=("--seed",))


@pytest.mark.parametrize("argv, fragment", [(["--seed=-2"], "--seed"),
                                            (["--epochs=0"], "--epochs"),
                                            (["--epochs=1000000"], "--epochs")])
def test_train_digits_refuses_bad_numbers_before_training(tmp_path, capsys, argv, fragment):
    pytest.importorskip("torch")
    assert_typed_error(capsys, "train-digits", *argv, "-o", tmp_path / "out",
                       fragments=(fragment,))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("seed, error", [(-1, DomainError), (MAX_SEED + 1, BoundError),
                                         (True, DomainError), (1.5, DomainError)])
def test_check_seed_types_and_bounds(seed, error):
    with pytest.raises(error):
        check_seed(seed)
    assert check_seed(0) == 0 and check_seed(MAX_SEED) == MAX_SEED


@pytest.mark.parametrize("limit", ["-1", str(2 ** 40)])
def test_compare_refuses_a_negative_or_absurd_limit(tmp_path, capsys, limit):
    pytest.importorskip("torch")
    assert_typed_error(capsys, "compare", f"--limit={limit}", fragments=("--limit",))
