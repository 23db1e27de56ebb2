"""Exact solvers shipped with the environments, so every learner can be scored as a fraction of the optimum.

* Principal-agent MDPs: :func:`min_pay_contract` / :func:`min_pay_contracts`, :func:`solve_spe`, and the
  exact oracle agent for scoring learned principals (:func:`agent_best_response`, :func:`evaluate_policies`,
  :func:`implement_recommendations`).
* Incentive design: Escape Room, Prisoner's Dilemma / reward transfer, TaxLite (``incentive_design``), and
  exact best responses to fixed (learned) policies and incentives in their episodes (``*_best_responses``).
* Coin Game: exact two-agent welfare optimum and principal value by expectimax DP
  (:func:`solve_coin_game_welfare`, :func:`solve_coin_game_principal`) and a proven welfare upper bound for
  any number of agents (:func:`coin_game_welfare_upper_bound`).
* Hierarchical contracts: :func:`solve_tree_contracts`; principal-agent bandits: :func:`solve_contract_bandit`.

Names are loaded from their submodule on first use (``from contract_envs.solvers import solve_spe`` imports
only ``contract_envs.solvers.spe``), so one solver's dependencies do not load, or break, the others.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> submodule of contract_envs.solvers that defines it
_EXPORTS: dict[str, str] = {
    "BanditSolution": "contract_bandit",
    "BestResponseCheck": "incentive_design",
    "CoinGameSolution": "coin_game",
    "coin_game_state_from_observation": "coin_game",
    "coin_game_welfare_upper_bound": "coin_game",
    "solve_coin_game_principal": "coin_game",
    "solve_coin_game_welfare": "coin_game",
    "PolicyEvaluation": "best_response",
    "Solution": "spe",
    "TaxLiteContinuousOptimum": "incentive_design",
    "TaxLiteSolution": "incentive_design",
    "TreeSolution": "tree_contracts",
    "agent_best_response": "best_response",
    "episodic_best_responses": "incentive_design",
    "escape_room_best_designer_return": "incentive_design",
    "escape_room_best_responses": "incentive_design",
    "escape_room_designer_return": "incentive_design",
    "escape_room_max_welfare": "incentive_design",
    "escape_room_max_welfare_enumerated": "incentive_design",
    "escape_room_min_lever_incentive": "incentive_design",
    "escape_room_optimal_profile": "incentive_design",
    "escape_room_pure_equilibria": "incentive_design",
    "escape_room_states": "incentive_design",
    "escape_room_sustains_optimum": "incentive_design",
    "evaluate_policies": "best_response",
    "expected_payments": "spe",
    "implement_recommendations": "best_response",
    "min_pay_contract": "min_pay",
    "min_pay_contracts": "min_pay",
    "pd_best_designer_return": "incentive_design",
    "pd_best_responses": "incentive_design",
    "pd_cooperation_dominant": "incentive_design",
    "pd_min_incentive_gap": "incentive_design",
    "productivity_and_equality": "incentive_design",
    "reward_transfer_cooperation_dominant": "incentive_design",
    "reward_transfer_grid_search": "incentive_design",
    "reward_transfer_threshold": "incentive_design",
    "solve_contract_bandit": "contract_bandit",
    "solve_spe": "spe",
    "solve_tree_contracts": "tree_contracts",
    "taxlite_best_responses": "incentive_design",
    "taxlite_coin": "incentive_design",
    "taxlite_continuous_optimum": "incentive_design",
    "taxlite_equilibria": "incentive_design",
    "taxlite_solve": "incentive_design",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'contract_envs.solvers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"contract_envs.solvers.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "BanditSolution",
    "BestResponseCheck",
    "CoinGameSolution",
    "PolicyEvaluation",
    "Solution",
    "TaxLiteContinuousOptimum",
    "TaxLiteSolution",
    "TreeSolution",
    "agent_best_response",
    "coin_game_state_from_observation",
    "coin_game_welfare_upper_bound",
    "episodic_best_responses",
    "escape_room_best_designer_return",
    "escape_room_best_responses",
    "escape_room_designer_return",
    "escape_room_max_welfare",
    "escape_room_max_welfare_enumerated",
    "escape_room_min_lever_incentive",
    "escape_room_optimal_profile",
    "escape_room_pure_equilibria",
    "escape_room_states",
    "escape_room_sustains_optimum",
    "evaluate_policies",
    "expected_payments",
    "implement_recommendations",
    "min_pay_contract",
    "min_pay_contracts",
    "pd_best_designer_return",
    "pd_best_responses",
    "pd_cooperation_dominant",
    "pd_min_incentive_gap",
    "productivity_and_equality",
    "reward_transfer_cooperation_dominant",
    "reward_transfer_grid_search",
    "reward_transfer_threshold",
    "solve_coin_game_principal",
    "solve_coin_game_welfare",
    "solve_contract_bandit",
    "solve_spe",
    "solve_tree_contracts",
    "taxlite_best_responses",
    "taxlite_coin",
    "taxlite_continuous_optimum",
    "taxlite_equilibria",
    "taxlite_solve",
]
