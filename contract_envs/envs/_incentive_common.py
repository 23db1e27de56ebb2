"""Pieces shared by the incentive-design environments (Escape Room, Prisoner's Dilemma, Cleanup, tax economy)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from contract_envs.contracts import ContractTerms, Settlement
from contract_envs.pettingzoo_api import ContractParallelEnv

INCENTIVE_MODES = ("per_action", "per_agent", "peer", "none")


def incentive_terms(
    mode: str, n_agents: int, n_outcomes: int, cap: float, allowed: tuple[str, ...] = INCENTIVE_MODES
) -> tuple[ContractTerms | None, ContractTerms | None]:
    """(designer terms, peer terms) for an incentive mode.

    ``per_action``: the designer pays one amount per outcome type, the same schedule for every
    agent; ``per_agent``: one schedule per agent; ``peer``: no designer, every agent pays every
    other agent a schedule over the recipient's outcomes (LIO); ``none``: no incentives at all.
    """
    if mode not in allowed:
        raise ValueError(f"incentives={mode!r} is not supported; allowed: {list(allowed)}")
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError(f"incentive_cap must be finite and > 0, got {cap!r}")
    if mode == "per_action":
        return ContractTerms(n_agents, n_outcomes, float(cap), shared=True), None
    if mode == "per_agent":
        return ContractTerms(n_agents, n_outcomes, float(cap)), None
    if mode == "peer":
        if n_agents < 2:
            raise ValueError("incentives='peer' needs at least 2 agents")
        return None, ContractTerms(n_agents - 1, n_outcomes, float(cap))
    return None, None


def others_index(n_agents: int) -> np.ndarray:
    """``[N, N-1]``: for each agent, the other agents in increasing id order."""
    return np.array([[j for j in range(n_agents) if j != i] for i in range(n_agents)], dtype=np.int64).reshape(
        n_agents, n_agents - 1
    )


def gini_equality(coin: np.ndarray) -> np.ndarray:
    """AI-Economist equality ``1 - G * n / (n - 1)`` per row of ``coin`` ``[B, n]`` (1 when all are zero)."""
    n = coin.shape[-1]
    total = coin.sum(axis=-1)
    pair = np.abs(coin[..., :, None] - coin[..., None, :]).sum(axis=(-1, -2))
    with np.errstate(invalid="ignore", divide="ignore"):
        gini = np.where(total > 0, pair / (2.0 * n * np.where(total > 0, total, 1.0)), 0.0)
    return 1.0 - gini * n / (n - 1)


class EpisodeLengthParallelEnv(ContractParallelEnv):
    """A ContractParallelEnv whose ``max_cycles`` is the episode length (the game's horizon).

    Subclasses' ``make_game`` takes ``max_cycles``; the default is ``default_max_cycles``.
    """

    default_max_cycles: int = 5

    def __init__(self, max_cycles: int | None = None, render_mode: str | None = None, **kwargs: Any):
        if max_cycles is None:
            max_cycles = self.default_max_cycles
        # the game's horizon follows max_cycles (the base class does not pass it to make_game)
        self.make_game = functools.partial(type(self).make_game, max_cycles=max_cycles)
        super().__init__(max_cycles=max_cycles, render_mode=render_mode, **kwargs)


def check_incentive_cost(alpha: float) -> float:
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"incentive_cost must be finite and >= 0, got {alpha!r}")
    return float(alpha)


class IncentiveCostMixin:
    """Designer reward ``welfare - incentive_cost * paid`` (the suite's ``designer_return(alpha)``).

    The ledger keeps the money (``utility`` = own - paid); only the designer's reward weighs what it
    pays by ``incentive_cost`` (1: the reward equals the ledger utility; 0: A's Cleanup objective).
    """

    incentive_cost: float = 1.0

    def rewards(self, settlement: Settlement) -> tuple[np.ndarray, np.ndarray]:
        principal = settlement.principal_utility
        if self.incentive_cost != 1.0:
            principal = principal + (1.0 - self.incentive_cost) * settlement.principal_paid
        return settlement.agent_utility, principal
