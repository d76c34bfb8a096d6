"""Observation and action spaces: what a space is, how its observations become network inputs, who takes it.

Three jobs, one subject:

- :func:`kind` names what a space is, in the words agents declare what they accept with
  (``Box``, ``image``, ``Discrete``, ``MultiDiscrete``, ``MultiBinary``, ``Dict``, ``Tuple``, and
  ``Dict with images`` / ``Tuple with images`` for containers holding images);
- :class:`ObsEncoding` turns a *batch* of raw observations (an array, or the dict / tuple of
  arrays a vector env returns) into one torch tensor: vectors flattened as
  ``gymnasium.spaces.utils.flatten`` does (one-hot for discrete entries), images (Stable-Baselines3's
  ``is_image_space``: uint8 ``H x W x C`` or ``C x H x W`` in [0, 255]) made channels-first uint8
  and resized to at most ``image_size`` pixels a side, so a 480 x 480 frame costs what an Atari frame does;
- :func:`require` refuses, in one line and before any training, a space an agent cannot take.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces as gs
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from torch.nn import functional as F

OBSERVATION_KINDS = ("Box", "image", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple",
                     "Dict with images", "Tuple with images")  # fmt: skip
ACTION_KINDS = ("Discrete", "MultiDiscrete", "MultiBinary", "Box")
FLAT_KINDS = ("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")
MAX_FLAT_INPUTS = 65_536  # a flattened observation wider than this is an image given the wrong dtype
MIN_IMAGE_SIDE = 36  # the smallest input NatureCNN's three convolutions accept
DEFAULT_IMAGE_SIZE = 84  # NatureCNN's (and Atari preprocessing's) frame side


class HasSpaces(Protocol):
    """What :func:`require` reads: a task, or anything naming an env and its spaces."""

    name: str
    observation_space: gym.Space
    action_space: gym.Space


def _leaves(space: gym.Space) -> list[gym.Space]:
    if isinstance(space, gs.Dict):
        return [leaf for sub in space.spaces.values() for leaf in _leaves(sub)]
    if isinstance(space, gs.Tuple):
        return [leaf for sub in space.spaces for leaf in _leaves(sub)]
    return [space]


def kind(space: gym.Space) -> str:
    """What ``space`` is, as agents declare it (see the module docstring); other spaces give their class name."""
    if isinstance(space, gs.Dict | gs.Tuple):
        name = type(space).__name__
        return f"{name} with images" if any(kind(leaf) == "image" for leaf in _leaves(space)) else name
    if isinstance(space, gs.Box):
        return "image" if is_image_space(space) else "Box"
    for cls in (gs.Discrete, gs.MultiDiscrete, gs.MultiBinary):
        if isinstance(space, cls):
            return cls.__name__
    return type(space).__name__


def flat_dim(space: gym.Space) -> int:
    """Width of a flattened observation of ``space`` (one-hot for discrete entries), as gymnasium's ``flatdim``."""
    return int(gs.utils.flatdim(space))


def one_hot_integers(space: gym.Space) -> gs.MultiDiscrete:
    """A bounded integer ``Box`` as the ``MultiDiscrete`` of its values, so :func:`flatten` one-hot encodes
    each entry; the raw observations stay valid (``start`` is the box's lower bound).

    Raises:
        ValueError: ``space`` is not a ``Box`` of integers with finite bounds, or its one-hot width
            exceeds ``MAX_FLAT_INPUTS``.
    """
    if not (isinstance(space, gs.Box) and np.issubdtype(space.dtype, np.integer)
            and space.is_bounded("both")):  # fmt: skip
        raise ValueError(f"one-hot observations need a Box of integers with finite bounds, got {_short(space)}")
    low, high = space.low.astype(np.int64), space.high.astype(np.int64)
    width = int((high - low + 1).sum())
    if width > MAX_FLAT_INPUTS:
        raise ValueError(f"one-hot encoding {_short(space)} would give {width:,} network inputs "
                         f"(at most {MAX_FLAT_INPUTS:,})")  # fmt: skip
    return gs.MultiDiscrete(high - low + 1, start=low)


def _listing(kinds: Sequence[str]) -> str:
    return kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} and {kinds[-1]}"


def _short(space: gym.Space) -> str:
    text = str(space)
    return text if len(text) <= 120 else text[:117] + "..."


def require(agent: str, task: HasSpaces, obs_kinds: Sequence[str], action_kinds: Sequence[str]) -> None:
    """Raise ``ValueError`` (one line) unless ``agent``, taking ``obs_kinds`` and ``action_kinds``, fits ``task``."""
    obs, act = task.observation_space, task.action_space
    got = kind(obs)
    if got not in obs_kinds:
        raise ValueError(f"{agent} cannot take {got} observations ({_short(obs)}) of {task.name!r}; "
                         f"it takes {_listing(obs_kinds)}")  # fmt: skip
    if got in FLAT_KINDS and flat_dim(obs) > MAX_FLAT_INPUTS:
        raise ValueError(
            f"{agent} would flatten the {_short(obs)} observations of {task.name!r} into {flat_dim(obs):,} network "
            f"inputs (at most {MAX_FLAT_INPUTS:,}): give images as uint8 Box(0, 255, (H, W, C)) so they go through "
            "the CNN encoder, or make the observation smaller"
        )
    if kind(act) not in action_kinds:
        raise ValueError(f"{agent} cannot act in {_short(act)} actions of {task.name!r}; "
                         f"it takes {_listing(action_kinds)}")  # fmt: skip


def batch_size(obs: Any) -> int:
    """Number of observations in a batch: an array, or a dict / tuple of arrays from a vector env."""
    while isinstance(obs, dict | tuple | list):
        obs = next(iter(obs.values())) if isinstance(obs, dict) else obs[0]
    return int(np.shape(obs)[0])


def batch_of_one(obs: Any) -> Any:
    """One observation as a batch of one (a leading axis on every array of a dict or tuple)."""
    if isinstance(obs, dict):
        return {key: batch_of_one(value) for key, value in obs.items()}
    if isinstance(obs, tuple):
        return tuple(batch_of_one(value) for value in obs)
    return np.asarray(obs)[None]


def _one_hot(index: torch.Tensor, n: int) -> torch.Tensor:
    return F.one_hot(index.long(), n).float()


def flatten(space: gym.Space, obs: Any, device: torch.device | str = "cpu") -> torch.Tensor:
    """A batch of observations of ``space`` as ``(B, flat_dim(space))`` float32, row ``i`` being
    ``gymnasium.spaces.utils.flatten(space, obs[i])`` (one-hot for discrete entries)."""
    if isinstance(space, gs.Dict):
        return torch.cat([flatten(sub, obs[key], device) for key, sub in space.spaces.items()], dim=-1)
    if isinstance(space, gs.Tuple):
        return torch.cat([flatten(sub, part, device) for sub, part in zip(space.spaces, obs, strict=True)], dim=-1)
    x = torch.as_tensor(np.asarray(obs), device=device)
    if isinstance(space, gs.Discrete):
        return _one_hot(x.reshape(-1) - int(space.start), int(space.n))
    if isinstance(space, gs.MultiDiscrete):
        rows = x.shape[0]
        nvec, start = space.nvec.reshape(-1), torch.as_tensor(space.start.reshape(-1), device=device)
        offsets = torch.as_tensor(np.concatenate([[0], np.cumsum(nvec)[:-1]]), device=device)
        hot = torch.zeros(rows, int(nvec.sum()), device=device)
        return hot.scatter_(1, (x.reshape(rows, -1) - start + offsets).long(), 1.0)
    return x.reshape(x.shape[0], -1).float()


class ObsEncoding:
    """How a batch of raw observations of ``space`` becomes one network input tensor.

    ``image`` spaces give ``(B, C, H, W)`` uint8 (channels first, each side resized into
    ``[MIN_IMAGE_SIDE, image_size]``, area-averaged); every other space gives ``(B, dim)`` float32.
    The uint8 images are what rollouts store (4x smaller than floats); the encoder divides by 255.
    """

    def __init__(self, space: gym.Space, image_size: int = DEFAULT_IMAGE_SIZE) -> None:
        if image_size < MIN_IMAGE_SIDE:
            raise ValueError(f"image_size must be >= {MIN_IMAGE_SIDE} (NatureCNN's smallest input), got {image_size}")
        self.space = space
        self.is_image = kind(space) == "image"
        if self.is_image:
            self.channels_first = bool(is_image_space_channels_first(space))
            c, h, w = space.shape if self.channels_first else (space.shape[2], *space.shape[:2])
            self.size = tuple(min(max(side, MIN_IMAGE_SIDE), image_size) for side in (h, w))
            self.shape: tuple[int, ...] = (c, *self.size)
        else:
            self.shape = (flat_dim(space),)

    @property
    def image_space(self) -> gs.Box:
        """The channels-first image space the encoder sees (an image encoding only)."""
        return gs.Box(0, 255, self.shape, dtype=np.uint8)

    def __call__(self, obs: Any, device: torch.device | str = "cpu") -> torch.Tensor:
        """``(B, *self.shape)``: uint8 images, or float32 flattened vectors."""
        if not self.is_image:
            return flatten(self.space, obs, device)
        x = torch.as_tensor(np.asarray(obs), device=device)
        if not self.channels_first:
            x = x.permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)
        if tuple(x.shape[2:]) != self.size:
            x = F.interpolate(x.float(), size=self.size, mode="area").round_().to(torch.uint8)
        return x.contiguous()

    def numpy(self, obs: Any) -> np.ndarray:
        """:meth:`__call__` on CPU, as a numpy array (for envs and Stable-Baselines3 policies)."""
        return self(obs).numpy()
