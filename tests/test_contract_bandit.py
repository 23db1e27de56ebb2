"""Contract bandit (principal-agent bandit and repeated E8): battery, exact optimum, best response, API."""

import numpy as np
import pytest

import contract_envs
import contract_envs.vector
from contract_envs.envs import contract_bandit_v0
from contract_envs.envs.contract_bandit import BanditInstance, bandit_instance, principal_env
from contract_envs.solvers import solve_contract_bandit, solve_spe
from tests.battery import run_battery


@pytest.mark.parametrize("kwargs", [{}, dict(instance="e8"), dict(instance="e8", noise="bernoulli", horizon=50)])
def test_battery(kwargs):
    run_battery(contract_bandit_v0, kwargs)


def test_reference_optimum_k5():
    sol = solve_contract_bandit("ipa_k5")
    assert sol.action == 2 and sol.incentive == pytest.approx(0.26) and sol.principal_value == pytest.approx(0.62)
    assert sol.incentives == pytest.approx([0.35, 0.0, 0.26, 0.38, 0.40])
    assert sol.principal_values == pytest.approx([-0.05, 0.24, 0.62, -0.31, 0.25])
    assert sol.no_contract_action == 1 and sol.no_contract_value == pytest.approx(0.24)


def test_observed_action_incentives_are_exact_and_match_the_lp():
    from contract_envs.solvers import min_pay_contracts

    inst = bandit_instance("ipa_k5")
    sol = solve_contract_bandit(inst)
    assert sol.incentives[2] + 1e-8 > 0.26  # exact: the +1/T^2 margin of T = 10^4 must break the tie
    assert inst.best_response(sol.contract + 1e-8 * (sol.contract > 0), "lowest").tolist() == [2]
    lp, feasible = min_pay_contracts(np.repeat(np.eye(5)[None], 5, 0), np.repeat(inst.agent_values[None], 5, 0),
                                     np.arange(5))
    assert feasible.all() and np.diag(lp) == pytest.approx(sol.incentives, abs=1e-7)


def test_e8_optimum_matches_spe_solver():
    sol = solve_contract_bandit("e8")
    assert sol.action == 2 and sol.contract == pytest.approx([0.0, 0.5])
    assert sol.principal_value == pytest.approx(0.45) and sol.agent_value == pytest.approx(0.15)
    assert sol.welfare == pytest.approx(0.6)
    from contract_envs.envs.principal_agent_mdp import hidden_action_e8

    spe = solve_spe(hidden_action_e8())
    assert spe.principal_value == pytest.approx(sol.principal_value)


def test_best_response_tie_rules():
    inst = bandit_instance("ipa_k5")
    exact = np.zeros(5)
    exact[2] = 0.26
    assert inst.best_response(exact, "lowest").tolist() == [1]  # tie with arm 1 goes to the lower index
    exact[2] += 1e-8
    assert inst.best_response(exact, "lowest").tolist() == [2]
    e8 = bandit_instance("e8")
    assert e8.best_response(np.array([0.0, 0.5])).tolist() == [2]  # indifferent: principal-preferred
    assert e8.best_response(np.array([0.0, 0.5]), "lowest").tolist() == [1]
    assert e8.best_response(np.array([[0.0, 0.0], [0.0, 0.3], [0.0, 0.6]])).tolist() == [0, 1, 2]


def test_tiny_tie_breaking_margins_survive_the_observation():
    env = contract_envs.vector.make("contract_envs/contract_bandit-v0", num_envs=1, seed=0)
    offer = np.zeros((1, 1, 5))
    offer[0, 0, 3] = 0.38 + 1e-8  # float32 would round this to 0.38: a tie the agent breaks to arm 1
    obs, *_ = env.step({"principal_0": offer})
    assert obs["agent_0"].dtype == np.float64
    assert env.game.best_response(obs["agent_0"]).tolist() == [3]


def test_rewards_and_ledger_in_batched_env():
    env = contract_envs.vector.make("contract_envs/contract_bandit-v0", num_envs=2000, seed=0)
    offer = np.zeros((2000, 1, 5))
    offer[:, 0, 2] = 0.26 + 1e-6
    obs, *_ = env.step({"principal_0": offer})
    arm = env.game.best_response(obs["agent_0"])
    assert np.all(arm == 2)
    obs, rewards, _, _, infos = env.step({"agent_0": arm})
    assert np.all(obs["principal_0"] == 2)
    assert rewards["agent_0"] == pytest.approx(np.full(2000, 0.99), abs=1e-5)
    assert rewards["principal_0"].mean() == pytest.approx(0.62, abs=0.08)  # sigma = 1 over 2000 envs
    assert rewards["principal_0"].std() == pytest.approx(1.0, abs=0.08)
    assert np.array_equal(infos["principal_0"]["payment"], infos["agent_0"]["payment"])


def test_principal_env_reaches_optimum():
    import pickle

    env = pickle.loads(pickle.dumps(principal_env(instance="e8", horizon=5)))
    env.reset(seed=0)
    total = 0.0
    for _ in range(2000 // 5):
        env.reset()
        for _ in range(5):
            _, r, _, trunc, info = env.step(np.array([[0.0, 0.5]], dtype=np.float32))
            total += r
    assert total / 2000 == pytest.approx(0.45, abs=0.03)


def test_invalid_input_raises():
    with pytest.raises(ValueError, match="unknown bandit instance"):
        contract_envs.make("parallel", "contract_envs/contract_bandit-v0", instance="k7")
    with pytest.raises(ValueError, match="tie_break"):
        contract_envs.make("parallel", "contract_envs/contract_bandit-v0", tie_break="random")
    with pytest.raises(ValueError, match=r"outcome_probs: shape"):
        BanditInstance(np.zeros(3), np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match="bernoulli"):
        contract_envs.make("parallel", "contract_envs/contract_bandit-v0", noise="bernoulli",
                           instance=BanditInstance(np.zeros(2), np.array([2.0, 0.0])))
    env = contract_envs.vector.make("contract_envs/contract_bandit-v0", num_envs=1, seed=0)
    with pytest.raises(ValueError, match="principal_0: payment to agent_0 for outcome 3"):
        env.step({"principal_0": np.array([[0, 0, 0, -1.0, 0]])})
