"""Exact solvers shipped with the environments, so every learner can be scored as a fraction of the optimum."""

from contract_envs.solvers.best_response import (
    PolicyEvaluation,
    agent_best_response,
    evaluate_policies,
    implement_recommendations,
)
from contract_envs.solvers.min_pay import min_pay_contract, min_pay_contracts
from contract_envs.solvers.spe import Solution, expected_payments, solve_spe

__all__ = [
    "PolicyEvaluation",
    "Solution",
    "agent_best_response",
    "evaluate_policies",
    "expected_payments",
    "implement_recommendations",
    "min_pay_contract",
    "min_pay_contracts",
    "solve_spe",
]
