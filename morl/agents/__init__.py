"""Agents registered by name: ``get("scalarized")`` returns the class."""

from __future__ import annotations

from morl.agents.base import Agent
from morl.agents.cmorl import CMORL
from morl.agents.momix import MOMIX
from morl.agents.offline_bc import OfflineBC
from morl.agents.oppo import OPPO
from morl.agents.pcsac import PCSAC
from morl.agents.scalarized import Scalarized

REGISTRY: dict[str, type[Agent]] = {
    Scalarized.name: Scalarized,
    CMORL.name: CMORL,
    PCSAC.name: PCSAC,
    MOMIX.name: MOMIX,
    OPPO.name: OPPO,
    OfflineBC.name: OfflineBC,
}


def get(name: str) -> type[Agent]:
    """The agent class registered as ``name``; unknown names list the valid ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown algorithm {name!r}; valid choices: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


__all__ = ["REGISTRY", "Agent", "get"]
