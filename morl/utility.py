"""Scalarisation functions turning a value vector into a utility for a preference.

Both numpy and torch inputs are accepted so the same definition serves evaluation (numpy)
and losses (torch); the last axis is the objective axis and broadcasting works as usual.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

Array = np.ndarray | torch.Tensor
UtilityName = Literal["linear", "chebyshev"]


def linear(values: Array, weights: Array) -> Array:
    """Weighted sum ``w . v`` over the last axis."""
    return (values * weights).sum(-1)


def chebyshev(values: Array, weights: Array, utopia: Array) -> Array:
    """Negative weighted Chebyshev distance to a utopia point, larger is better.

    ``-max_i w_i |u_i - v_i|``: unlike the weighted sum it can select points in concave parts
    of a front, which is why ``ParetoArchive.policy_for`` offers it.
    """
    gap = (utopia - values).abs() if isinstance(values, torch.Tensor) else np.abs(utopia - values)
    scaled = weights * gap
    if isinstance(scaled, torch.Tensor):
        return -scaled.max(dim=-1).values
    return -np.max(scaled, axis=-1)


def get(name: str):
    """Look up a utility by name; unknown names list the valid ones."""
    table = {"linear": linear, "chebyshev": chebyshev}
    if name not in table:
        raise ValueError(f"unknown utility {name!r}; valid choices: {', '.join(sorted(table))}")
    return table[name]
