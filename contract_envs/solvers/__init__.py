"""Exact solvers shipped with the environments, so every learner can be scored as a fraction of the optimum."""

from contract_envs.solvers.contract_bandit import BanditSolution, solve_contract_bandit
from contract_envs.solvers.min_pay import min_pay_contract, min_pay_contracts
from contract_envs.solvers.spe import Solution, expected_payments, solve_spe
from contract_envs.solvers.tree_contracts import TreeSolution, solve_tree_contracts

__all__ = ["Solution", "expected_payments", "min_pay_contract", "min_pay_contracts", "solve_spe"]
__all__ += ["TreeSolution", "solve_tree_contracts"]
__all__ += ["BanditSolution", "solve_contract_bandit"]
