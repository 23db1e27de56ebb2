"""Pieces shared by the incentive-design games (Escape Room, Prisoner's Dilemma, Cleanup, tax economy)."""

from __future__ import annotations

import numpy as np

from contract_envs.checks import check_choice, check_real
from contract_envs.contracts import ContractTerms, Settlement

INCENTIVE_MODES = ("per_action", "per_agent", "peer", "none")


def incentive_terms(
    owner: str, mode: str, n_agents: int, n_outcomes: int, cap: float, allowed: tuple[str, ...] = INCENTIVE_MODES
) -> tuple[ContractTerms | None, ContractTerms | None]:
    """(designer terms, peer terms) for an incentive mode.

    ``per_action``: the designer pays one amount per outcome type, the same schedule for every
    agent; ``per_agent``: one schedule per agent; ``peer``: no designer, every agent pays every
    other agent a schedule over the recipient's outcomes (LIO); ``none``: no incentives at all.
    """
    check_choice("incentives", mode, allowed, owner=owner)
    cap = check_real("incentive_cap", cap, 0.0, low_open=True, owner=owner)
    if mode == "per_action":
        return ContractTerms(n_agents, n_outcomes, cap, shared=True), None
    if mode == "per_agent":
        return ContractTerms(n_agents, n_outcomes, cap), None
    if mode == "peer":
        if n_agents < 2:
            raise ValueError(f"{owner}: incentives='peer' needs n_agents >= 2, got {n_agents}")
        return None, ContractTerms(n_agents - 1, n_outcomes, cap)
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


def designer_rewards(settlement: Settlement, incentive_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """Agents' utilities and the designer's reward ``welfare - incentive_cost * paid``.

    The ledger keeps the money (designer ``utility`` = own - paid); only the designer's reward weighs
    what it pays by ``incentive_cost`` (1: the reward equals the ledger utility; 0: A's Cleanup
    objective)."""
    principal = settlement.principal_utility
    if incentive_cost != 1.0:
        principal = principal + (1.0 - incentive_cost) * settlement.principal_paid
    return settlement.agent_utility, principal
