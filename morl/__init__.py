"""morl: multi-objective reinforcement learning with one shared Pareto-front archive.

Start with :func:`morl.envs.make`, an agent from :mod:`morl.agents`, and the metrics in
:mod:`morl.metrics`; everything an agent finds lands in a :class:`morl.pareto.ParetoArchive`.
"""

from morl.pareto import ParetoArchive, crowding_distance, non_dominated

__version__ = "0.1.0"
__all__ = ["ParetoArchive", "__version__", "crowding_distance", "non_dominated"]
