import numpy as np
import pytest
import torch

from morl import utility


def test_linear_numpy_and_torch_agree():
    v = np.array([[1.0, 2.0], [3.0, -1.0]])
    w = np.array([0.25, 0.75])
    expected = np.array([1.75, 0.0])
    np.testing.assert_allclose(utility.linear(v, w), expected)
    np.testing.assert_allclose(utility.linear(torch.tensor(v), torch.tensor(w)).numpy(), expected)


def test_chebyshev_prefers_point_closest_in_weighted_max_norm():
    v = np.array([[10.0, 0.0], [6.0, 6.0], [0.0, 10.0]])
    scores = utility.chebyshev(v, np.array([0.5, 0.5]), np.array([10.0, 10.0]))
    assert int(np.argmax(scores)) == 1  # the concave-region point a weighted sum would miss
    t = utility.chebyshev(torch.tensor(v), torch.tensor([0.5, 0.5]), torch.tensor([10.0, 10.0]))
    np.testing.assert_allclose(t.numpy(), scores)


def test_unknown_utility_lists_choices():
    with pytest.raises(ValueError, match="chebyshev, linear"):
        utility.get("max")
