"""Exact optimum of the repeated principal-agent bandit / hidden-action contract (``contract_envs/contract_bandit-v1``).

For every target action, the cheapest limited-liability contract that makes it a best response is
the min-pay LP of PARL (:mod:`contract_envs.solvers.min_pay`, truncated values = the agent's own
values ``s``); in the observed-action bandit it is the LP's closed form, ``max s - s_a`` on arm ``a``
only (computed exactly: the LP solver's ~1e-9 tolerance would matter to a ``+1/T^2`` margin). The principal
implements the target with the highest ``sum_o P(o|a) (theta_o - p_o)``.

The min-pay contract leaves the agent indifferent; it implements the target under the tie rule
``"principal"``. Under ``"lowest"`` a target whose index exceeds an indifferent rival needs
``+epsilon`` (the reference offers ``1/T^2``): the reported value is then the supremum.

Reported numbers are rounded to 12 significant digits of the instance's scale ``max |s| + max
|theta|`` (drops float dust on decimal grids), so scaling every value by ``c`` scales the answer by ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract_envs.games.contract_bandit import BanditInstance, bandit_instance
from contract_envs.solvers.min_pay import min_pay_contracts


@dataclass
class BanditSolution:
    """Optimal contract of a :class:`BanditInstance`.

    Attributes:
        action: the implemented action (arm).
        contract: ``[O]`` min-pay contract implementing it.
        incentive: its expected payment (the bandit's ``tau*``).
        principal_value: principal's expected utility per round (``theta - tau*`` in the bandit).
        agent_value: agent's expected utility per round.
        welfare: expected welfare per round.
        incentives: ``[K]`` minimal expected payment implementing each action (``inf`` if none does).
        principal_values: ``[K]`` principal's value of implementing each action (``-inf`` if impossible).
        no_contract_action, no_contract_value: the agent's action and the principal's value without payments.
    """

    action: int
    contract: np.ndarray
    incentive: float
    principal_value: float
    agent_value: float
    welfare: float
    incentives: np.ndarray
    principal_values: np.ndarray
    no_contract_action: int
    no_contract_value: float


def solve_contract_bandit(instance: str | BanditInstance = "ipa_k5") -> BanditSolution:
    """Optimal contract, its value and the per-action incentives of ``instance`` (a preset name or instance)."""
    inst = bandit_instance(instance)
    k = inst.n_actions
    if inst.observed_action:  # closed form (exact, unlike the LP's solver tolerance): pay max s - s_a on arm a
        contracts, feasible = np.diag(inst.agent_values.max() - inst.agent_values), np.ones(k, dtype=bool)
    else:
        probs = np.repeat(inst.outcome_probs[None], k, axis=0)
        contracts, feasible = min_pay_contracts(probs, np.repeat(inst.agent_values[None], k, axis=0), np.arange(k))
    incentives = np.where(feasible, (inst.outcome_probs * contracts).sum(1), np.inf)
    gross = inst.outcome_probs @ inst.principal_values
    values = np.where(feasible, gross - incentives, -np.inf)
    best = int(np.argmax(values))
    idle = int(inst.best_response(np.zeros((1, inst.n_outcomes)), "principal")[0])
    scale = float(np.abs(inst.agent_values).max() + np.abs(inst.principal_values).max())
    digits = int(np.clip(12 - np.floor(np.log10(scale)), -300, 300)) if 0.0 < scale < np.inf else 12
    r = lambda x: float(np.round(x, digits))  # noqa: E731  (instances on decimal grids: drop float dust)
    return BanditSolution(
        action=best,
        contract=np.round(contracts[best], digits),
        incentive=r(incentives[best]),
        principal_value=r(values[best]),
        agent_value=r(inst.agent_values[best] + incentives[best]),
        welfare=r(gross[best] + inst.agent_values[best]),
        incentives=np.round(incentives, digits),
        principal_values=np.round(values, digits),
        no_contract_action=idle,
        no_contract_value=r(gross[idle]),
    )
