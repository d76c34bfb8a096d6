"""Small network pieces shared by the torch agents: MLPs and NatureCNN encoders (single and stacked), and a
saved running normaliser."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.torch_layers import NatureCNN
from torch import nn
from torch.nn import functional as F


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, out_gain: float = 1.0) -> nn.Sequential:
    """Tanh MLP with orthogonal init (gain sqrt(2) hidden, ``out_gain`` output), as in PPO practice."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layer = nn.Linear(last, width)
        nn.init.orthogonal_(layer.weight, np.sqrt(2))
        nn.init.zeros_(layer.bias)
        layers += [layer, nn.Tanh()]
        last = width
    head = nn.Linear(last, out_dim)
    nn.init.orthogonal_(head.weight, out_gain)
    nn.init.zeros_(head.bias)
    layers.append(head)
    return nn.Sequential(*layers)


class StackedLinear(nn.Module):
    """``members`` independent linear layers applied as one batched matmul: (P, B, in) -> (P, B, out).

    ``weight`` is (P, out, in) and ``bias`` (P, out), so slice ``p`` is an ``nn.Linear``'s state.
    """

    def __init__(self, members: int, in_dim: int, out_dim: int, gain: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(members, out_dim))
        for member in self.weight.data:
            nn.init.orthogonal_(member, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


def stacked_mlp(members: int, in_dim: int, hidden: tuple[int, ...], out_dim: int, out_gain: float) -> nn.Sequential:
    """:func:`mlp` for a population: same layout, init and state-dict keys, stacked."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [StackedLinear(members, last, width, float(np.sqrt(2))), nn.Tanh()]
        last = width
    layers.append(StackedLinear(members, last, out_dim, out_gain))
    return nn.Sequential(*layers)


class StackedConv2d(nn.Module):
    """``members`` independent ``nn.Conv2d`` layers as one grouped convolution: (B, P * in, H, W) -> (B, P * out, h, w).

    ``weight`` is (P, out, in, k, k) and ``bias`` (P, out), so slice ``p`` is an ``nn.Conv2d``'s state.
    """

    def __init__(self, members: int, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 gain: float) -> None:  # fmt: skip
        super().__init__()
        self.members, self.stride = members, stride
        self.weight = nn.Parameter(torch.empty(members, out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(members, out_channels))
        for member in self.weight.data:
            nn.init.orthogonal_(member, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight.flatten(0, 1), self.bias.flatten(), self.stride, groups=self.members)


def nature_cnn(image_shape: tuple[int, ...], features_dim: int = 512) -> NatureCNN:
    """Stable-Baselines3's ``NatureCNN`` for channels-first uint8 images of ``image_shape``, input scaled to [0, 1].

    Orthogonal init with gain sqrt(2), as SB3's ``ActorCriticPolicy`` gives its features extractor.
    """
    cnn = NatureCNN(gym.spaces.Box(0, 255, image_shape, dtype=np.uint8), features_dim)
    for module in cnn.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nn.init.orthogonal_(module.weight, np.sqrt(2))
            nn.init.zeros_(module.bias)
    return cnn


class StackedNatureCNN(nn.Module):
    """:func:`nature_cnn` for a population: (P, B, C, H, W) in [0, 1] -> (P, B, features_dim).

    The same layers, init and state-dict keys (``cnn.0``, ``cnn.2``, ``cnn.4``, ``linear.0``) as
    SB3's ``NatureCNN``, with a leading member dimension: member ``p`` is ``{k: v[p]}``.
    """

    def __init__(self, members: int, image_shape: tuple[int, ...], features_dim: int = 512) -> None:
        super().__init__()
        gain = float(np.sqrt(2))
        channels, height, width = image_shape
        self.cnn = nn.Sequential(
            StackedConv2d(members, channels, 32, 8, 4, gain), nn.ReLU(),
            StackedConv2d(members, 32, 64, 4, 2, gain), nn.ReLU(),
            StackedConv2d(members, 64, 64, 3, 1, gain), nn.ReLU(),
        )  # fmt: skip
        with torch.no_grad():
            n_flatten = self.cnn(torch.zeros(1, members * channels, height, width)).numel() // members
        self.linear = nn.Sequential(StackedLinear(members, n_flatten, features_dim, gain), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pop, batch = x.shape[:2]
        grouped = x.transpose(0, 1).reshape(batch, -1, *x.shape[3:])  # (B, P * C, H, W): member p's channels in block p
        out = self.cnn(grouped).reshape(batch, pop, -1).transpose(0, 1)  # (P, B, 64 * h * w), SB3's flatten order
        return self.linear(out)


@contextlib.contextmanager
def one_torch_thread(device: torch.device) -> Iterator[None]:
    """Train small CPU networks on one thread, restoring the caller's setting afterwards.

    Networks of this size are overhead-bound: extra OpenMP threads only add synchronisation,
    and when another process holds a core they made training several times slower (C-MORL's
    batched ops ~20x, the SB3 baseline's README run 6x: 3 min 46 s against 37 s).
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class RunningNorm(nn.Module):
    """Running mean/variance of a vector stream (Chan et al. parallel update).

    Kept as module buffers so a policy's normaliser is saved with its weights (safetensors)
    and an archived policy acts exactly as it did when it was evaluated. With ``members`` it
    keeps one independent set of statistics per member of a batched population (leading dim).
    """

    def __init__(self, dim: int, clip: float = 10.0, epsilon: float = 1e-8, members: int | None = None) -> None:
        super().__init__()
        self.clip = clip
        self.epsilon = epsilon
        lead = () if members is None else (members,)
        self.register_buffer("mean", torch.zeros(*lead, dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(*lead, dim, dtype=torch.float64))
        self.register_buffer("count", torch.full(lead, epsilon, dtype=torch.float64))
        self._affine: tuple[tuple[int, int, int], torch.Tensor, torch.Tensor] | None = None

    @torch.no_grad()
    def update(self, batch: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Fold a batch into the statistics: ``(n, dim)``, or ``(members, n, dim)`` with an optional
        ``(members, n)`` mask of the rows that count (members may see different numbers of rows)."""
        lead, dim = self.mean.shape[:-1], self.mean.shape[-1]
        batch = batch.reshape(*lead, -1, dim).to(torch.float64)
        weight = torch.ones(batch.shape[:-1], dtype=torch.float64, device=batch.device)
        if mask is not None:
            weight = mask.reshape(weight.shape).to(torch.float64)
        n = weight.sum(-1)
        safe_n = n.clamp(min=1.0).unsqueeze(-1)
        b_mean = (batch * weight.unsqueeze(-1)).sum(-2) / safe_n
        b_var = ((batch - b_mean.unsqueeze(-2)).pow(2) * weight.unsqueeze(-1)).sum(-2) / safe_n
        delta = b_mean - self.mean
        total = self.count + n
        self.mean += delta * (n / total).unsqueeze(-1)
        m2 = self.var * self.count.unsqueeze(-1) + b_var * n.unsqueeze(-1)
        m2 += delta.pow(2) * (self.count * n / total).unsqueeze(-1)
        self.var.copy_(m2 / total.unsqueeze(-1))
        self.count.copy_(total)

    @property
    def std(self) -> torch.Tensor:
        return torch.sqrt(self.var + self.epsilon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise ``x`` (``(B, dim)``, or ``(members, B, dim)``) and clip to ``[-clip, clip]``."""
        mean, inv_std = self._shift_and_scale(x.dtype)
        return ((x - mean.unsqueeze(-2)) * inv_std.unsqueeze(-2)).clamp(-self.clip, self.clip)

    def _shift_and_scale(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and 1/std in ``dtype``, recomputed only when the statistics change.

        The cache key is the buffers' in-place version counters, which ``update`` and
        ``load_state_dict`` both bump; acting calls this once per env step.
        """
        key = (self.mean._version, self.var._version, id(self.mean))
        if self._affine is None or self._affine[0] != key or self._affine[1].dtype != dtype:
            self._affine = (key, self.mean.to(dtype), (1.0 / self.std).to(dtype))
        return self._affine[1], self._affine[2]
