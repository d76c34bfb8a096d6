"""Episode replay for recurrent CTDE learners (MO-MIX, QMIX): whole episodes, padded and masked, on the device.

A recurrent agent network must be unrolled over an episode from its first step, so the unit of replay is the
episode, as in PyMARL's ``EpisodeBatch``. Episodes of different lengths share one padded time axis; ``filled``
marks the real steps. The time axis grows when a longer episode arrives, so no episode limit has to be declared.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass
class Episodes:
    """``B`` episodes padded to ``T`` steps with ``N`` agents and ``m`` objectives (one device).

    Slot ``t`` of ``obs`` / ``state`` / ``avail`` is what the agents saw before action ``t``; slot ``T`` holds what
    followed the last step, for the bootstrap target.
    """

    obs: torch.Tensor  # (B, T + 1, N, D)
    state: torch.Tensor  # (B, T + 1, S)
    avail: torch.Tensor  # (B, T + 1, N, A) bool: legal actions (all True in padding)
    actions: torch.Tensor  # (B, T, N) long
    rewards: torch.Tensor  # (B, T, m) team reward vectors
    terminated: torch.Tensor  # (B, T) float: 1.0 on the step that ended the episode (no bootstrap)
    filled: torch.Tensor  # (B, T) bool: real steps
    preference: torch.Tensor  # (B, m) the preference the episode was played for

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    @property
    def max_len(self) -> int:
        return int(self.actions.shape[1])

    def padded_to(self, steps: int) -> Episodes:
        """The same episodes on a time axis of ``steps >= T`` steps (padding: zeros, avail True, filled False)."""
        extra = steps - self.max_len
        if extra < 0:
            raise ValueError(f"cannot pad episodes of {self.max_len} steps down to {steps}")
        if extra == 0:
            return self
        out = {}
        for f in fields(self):
            x = getattr(self, f.name)
            if f.name == "preference":
                out[f.name] = x
                continue
            pad = x.new_ones if f.name == "avail" else x.new_zeros
            out[f.name] = torch.cat([x, pad((x.shape[0], extra, *x.shape[2:]))], dim=1)
        return Episodes(**out)


class EpisodeBuffer:
    """Ring of the last ``capacity`` episodes (PyMARL's ``buffer_size``), sampled uniformly."""

    def __init__(self, capacity: int, device: torch.device | str = "cpu") -> None:
        if capacity < 1:
            raise ValueError(f"buffer capacity must be >= 1 episode, got {capacity}")
        self.capacity, self.device = int(capacity), torch.device(device)
        self.data: Episodes | None = None  # (capacity, ...) once the first episode arrives
        self.pos = 0  # next slot to write
        self.size = 0  # slots holding episodes
        self.added = 0  # episodes ever stored

    def __len__(self) -> int:
        return self.size

    def add(self, episodes: Episodes) -> None:
        """Store ``episodes`` (oldest overwritten once full); their time axis and the buffer's are padded to match."""
        n = len(episodes)
        if n > self.capacity:
            raise ValueError(f"{n} episodes at once do not fit a buffer of {self.capacity}")
        episodes = Episodes(**{f.name: getattr(episodes, f.name).to(self.device) for f in fields(Episodes)})
        if self.data is None:
            self.data = Episodes(**{f.name: getattr(episodes, f.name).new_zeros(
                (self.capacity, *getattr(episodes, f.name).shape[1:])) for f in fields(Episodes)})  # fmt: skip
            self.data.avail.fill_(True)
        steps = max(self.data.max_len, episodes.max_len)
        self.data, episodes = self.data.padded_to(steps), episodes.padded_to(steps)
        index = (self.pos + torch.arange(n, device=self.device)) % self.capacity
        for f in fields(Episodes):
            getattr(self.data, f.name)[index] = getattr(episodes, f.name)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        self.added += n

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Episodes:
        """``batch_size`` distinct episodes (PyMARL samples without replacement), cut to their longest filled step."""
        if batch_size > self.size:
            raise ValueError(f"cannot sample {batch_size} episodes from a buffer holding {self.size}")
        index = torch.randperm(self.size, generator=generator, device="cpu")[:batch_size].to(self.device)
        batch = Episodes(**{f.name: getattr(self.data, f.name)[index] for f in fields(Episodes)})
        steps = int(batch.filled.any(dim=0).nonzero().max()) + 1
        cut = {f.name: getattr(batch, f.name) for f in fields(Episodes)}
        for name in ("actions", "rewards", "terminated", "filled"):
            cut[name] = cut[name][:, :steps]
        for name in ("obs", "state", "avail"):
            cut[name] = cut[name][:, : steps + 1]
        return Episodes(**cut)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """The filled slots (in slot order) and the counters, so sampling continues exactly after a resume."""
        if self.data is None:
            return {"pos": self.pos, "added": self.added}
        rows = slice(0, self.size)
        return {**{f.name: getattr(self.data, f.name)[rows].cpu() for f in fields(Episodes)}, "pos": self.pos,
                "added": self.added}  # fmt: skip

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        """Restore :meth:`state_dict`."""
        self.data, self.size = None, 0
        if "obs" in state:
            rows = int(state["obs"].shape[0])
            if rows > self.capacity:
                raise ValueError(f"saved replay of {rows} episodes does not fit a buffer of {self.capacity}")
            saved = Episodes(**{f.name: state[f.name] for f in fields(Episodes)})
            saved.avail, saved.filled = saved.avail.bool(), saved.filled.bool()
            self.add(saved)
        self.pos, self.added = int(state["pos"]), int(state["added"])
