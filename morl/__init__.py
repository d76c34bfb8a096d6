"""morl: multi-objective reinforcement learning with one shared Pareto-front archive.

Start with :func:`morl.train` (or :func:`morl.tasks.make` and an agent from :mod:`morl.agents`), and the metrics in
:mod:`morl.metrics`; everything an agent finds lands in a :class:`morl.pareto.ParetoArchive`.
"""

from morl.pareto import ParetoArchive, crowding_distance
from morl.points import non_dominated

__version__ = "0.1.0"
__all__ = ["ParetoArchive", "__version__", "crowding_distance", "non_dominated", "train"]


def __getattr__(name: str):
    """``morl.train`` is imported on first use: it pulls in every agent (torch, Stable-Baselines3)."""
    if name == "train":
        from morl.training import train

        return train
    raise AttributeError(f"module 'morl' has no attribute {name!r}")
