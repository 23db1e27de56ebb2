"""Exact solvers shipped with the environments, so every learner can be scored as a fraction of the optimum.

* Principal-agent MDPs: :func:`min_pay_contract` / :func:`min_pay_contracts`, :func:`solve_spe`, and the
  exact oracle agent for scoring learned principals (:func:`agent_best_response`, :func:`evaluate_policies`,
  :func:`implement_recommendations`).
* Incentive design: Escape Room, Prisoner's Dilemma / reward transfer, TaxLite (``incentive_design``).
* Coin Game: exact two-agent welfare optimum and principal value by expectimax DP
  (:func:`solve_coin_game_welfare`, :func:`solve_coin_game_principal`) and a proven welfare upper bound for
  any number of agents (:func:`coin_game_welfare_upper_bound`).
* Hierarchical contracts: :func:`solve_tree_contracts`; principal-agent bandits: :func:`solve_contract_bandit`.
"""

from contract_envs.solvers.best_response import (
    PolicyEvaluation,
    agent_best_response,
    evaluate_policies,
    implement_recommendations,
)
from contract_envs.solvers.coin_game import (
    CoinGameSolution,
    coin_game_state_from_observation,
    coin_game_welfare_upper_bound,
    solve_coin_game_principal,
    solve_coin_game_welfare,
)
from contract_envs.solvers.contract_bandit import BanditSolution, solve_contract_bandit
from contract_envs.solvers.incentive_design import (
    TaxLiteSolution,
    escape_room_best_designer_return,
    escape_room_designer_return,
    escape_room_max_welfare,
    escape_room_max_welfare_enumerated,
    escape_room_min_lever_incentive,
    escape_room_optimal_profile,
    escape_room_pure_equilibria,
    escape_room_sustains_optimum,
    pd_best_designer_return,
    pd_cooperation_dominant,
    pd_min_incentive_gap,
    reward_transfer_cooperation_dominant,
    reward_transfer_grid_search,
    reward_transfer_threshold,
    taxlite_equilibria,
    taxlite_solve,
)
from contract_envs.solvers.min_pay import min_pay_contract, min_pay_contracts
from contract_envs.solvers.spe import Solution, expected_payments, solve_spe
from contract_envs.solvers.tree_contracts import TreeSolution, solve_tree_contracts

__all__ = [
    "BanditSolution",
    "CoinGameSolution",
    "PolicyEvaluation",
    "Solution",
    "TaxLiteSolution",
    "TreeSolution",
    "agent_best_response",
    "coin_game_state_from_observation",
    "coin_game_welfare_upper_bound",
    "escape_room_best_designer_return",
    "escape_room_designer_return",
    "escape_room_max_welfare",
    "escape_room_max_welfare_enumerated",
    "escape_room_min_lever_incentive",
    "escape_room_optimal_profile",
    "escape_room_pure_equilibria",
    "escape_room_sustains_optimum",
    "evaluate_policies",
    "expected_payments",
    "implement_recommendations",
    "min_pay_contract",
    "min_pay_contracts",
    "pd_best_designer_return",
    "pd_cooperation_dominant",
    "pd_min_incentive_gap",
    "reward_transfer_cooperation_dominant",
    "reward_transfer_grid_search",
    "reward_transfer_threshold",
    "solve_coin_game_principal",
    "solve_coin_game_welfare",
    "solve_contract_bandit",
    "solve_spe",
    "solve_tree_contracts",
    "taxlite_equilibria",
    "taxlite_solve",
]
