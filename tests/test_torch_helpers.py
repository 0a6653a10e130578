"""The shared torch helpers: batching arrays into tensors."""

import numpy as np
import torch

from sslts._torch import tensor_batches


def test_tensor_batches_cover_every_row_in_order():
    values = np.arange(7 * 2, dtype=np.float32).reshape(7, 2)
    observed = values > 3
    batches = list(tensor_batches((values, observed), 3, torch.device("cpu")))
    assert [len(x) for x, _ in batches] == [3, 3, 1]
    assert all(isinstance(t, torch.Tensor) for batch in batches for t in batch)
    np.testing.assert_array_equal(torch.cat([x for x, _ in batches]).numpy(), values)
    np.testing.assert_array_equal(torch.cat([o for _, o in batches]).numpy(), observed)
    assert batches[0][1].dtype == torch.bool


def test_tensor_batches_single_array_and_empty_input():
    (only,) = list(tensor_batches((np.ones((2, 3)),), 10, torch.device("cpu")))
    assert only[0].shape == (2, 3)
    assert list(tensor_batches((np.ones((0, 3)),), 4, torch.device("cpu"))) == []
