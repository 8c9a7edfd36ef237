"""Class 5 of issue 12: an empty batch is a ShapeError (ERR-2) with exit 2 in every command that
reads images, and odd batches are typed errors (ERR-5)."""

from __future__ import annotations

import numpy as np
import pytest
from extras import needs_torch
from hostile import assert_typed_error, small_model_file, small_state_dict_file

from boolnet_spec.reference.errors import ShapeError
from boolnet_spec.reference.stem import check_image

pytestmark = pytest.mark.req("ERR-2", "ERR-5")


def images(tmp_path, shape, name="images.npy"):
    path = tmp_path / name
    np.save(path, np.zeros(shape, np.float32))
    return path


@pytest.mark.parametrize("command", ["run", "datapath"])
@pytest.mark.parametrize("shape", [(0, 3, 32, 32), (2, 3, 0, 32), (1, 3, 32, 0)])
def test_an_empty_batch_is_a_shape_error_in_the_model_commands(tmp_path, capsys, command, shape):
    assert_typed_error(capsys, command, small_model_file(tmp_path),
                       f"--input={images(tmp_path, shape)}", "-o", tmp_path / "out.npz",
                       fragments=("image", "non-empty batch", "[ERR-5]"))
    assert not (tmp_path / "out.npz").exists()


@needs_torch
@pytest.mark.parametrize("shape", [(0, 3, 32, 32), (0, 3, 8, 8), (3, 3, 0, 0)])
def test_an_empty_batch_is_a_shape_error_in_compare(tmp_path, capsys, shape):
    assert_typed_error(capsys, "compare", f"--input={images(tmp_path, shape)}",
                       fragments=("non-empty batch",))


@needs_torch
@pytest.mark.parametrize("shape", [(1, 3, 32, 30), (2, 3, 31, 32), (1, 3, 64, 32)])
def test_a_non_square_input_with_a_checkpoint_is_a_shape_error(tmp_path, capsys, shape):
    assert_typed_error(capsys, "compare", small_state_dict_file(tmp_path), "--config=boolnet-k4",
                       f"--input={images(tmp_path, shape)}", fragments=("square images",))


@needs_torch
@pytest.mark.parametrize("samples", ["0", "-3", "1000000"])
def test_compare_refuses_an_empty_or_huge_random_batch(tmp_path, capsys, samples):
    assert_typed_error(capsys, "compare", small_state_dict_file(tmp_path), "--config=boolnet-k4",
                       f"--samples={samples}", fragments=("--samples",))


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (0, 3, 0, 0), (5, 3, 4, 0)])
def test_check_image_refuses_empty_batches(shape):
    with pytest.raises(ShapeError, match="non-empty batch"):
        check_image(np.zeros(shape, np.float32))
