"""Contract bandit (principal-agent bandit and repeated E8): battery, exact optimum, best response, API."""

import pickle
import warnings

import gymnasium
import numpy as np
import pytest

import contract_envs
import contract_envs.vector
from contract_envs.adapters.views import PrincipalGymEnv
from contract_envs.games.contract_bandit import BanditInstance, BestResponsePolicy, bandit_instance, make_game
from contract_envs.solvers import solve_contract_bandit, solve_spe
from tests.battery import fuzz_env, run_battery

ENV = "contract_envs/contract_bandit-v1"


@pytest.mark.parametrize(
    "kwargs",
    [dict(instance="e8"), dict(instance="e8", noise="bernoulli", horizon=50), dict(payment_cap=1.0, horizon=7)],
    ids=["e8", "e8-bernoulli", "cap1-T7"],
)
def test_battery(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_battery(ENV, kwargs)
        assert fuzz_env(ENV, kwargs) >= 20


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
    lp, feasible = min_pay_contracts(
        np.repeat(np.eye(5)[None], 5, 0), np.repeat(inst.agent_values[None], 5, 0), np.arange(5)
    )
    assert feasible.all() and np.diag(lp) == pytest.approx(sol.incentives, abs=1e-7)


def test_e8_optimum_matches_spe_solver():
    sol = solve_contract_bandit("e8")
    assert sol.action == 2 and sol.contract == pytest.approx([0.0, 0.5])
    assert sol.principal_value == pytest.approx(0.45) and sol.agent_value == pytest.approx(0.15)
    assert sol.welfare == pytest.approx(0.6)
    from contract_envs.games.principal_agent_mdp import hidden_action_e8

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
    env = contract_envs.vector.make(ENV, num_envs=1, seed=0)
    offer = np.zeros((1, 1, 5))
    offer[0, 0, 3] = 0.38 + 1e-8  # float32 would round this to 0.38: a tie the agent breaks to arm 1
    obs, *_ = env.step({"principal_0": offer})
    assert obs["agent_0"].dtype == np.float64
    assert env.game.best_response(obs["agent_0"]).tolist() == [3]
    assert env.game.best_response(env.offers).tolist() == [3]


def test_rewards_ledger_and_outcomes_in_batched_env():
    env = contract_envs.vector.make(ENV, num_envs=2000, seed=0)
    offer = np.zeros((2000, 1, 5))
    offer[:, 0, 2] = 0.26 + 1e-6
    obs, _, _, _, infos = env.step({"principal_0": offer})
    assert np.all(infos["agent_0"]["outcome"] == -1)  # nothing realised in the offer step
    arm = env.game.best_response(obs["agent_0"])
    assert np.all(arm == 2)
    obs, rewards, _, _, infos = env.step({"agent_0": arm})
    assert np.all(obs["principal_0"] == 2)
    assert np.all(infos["agent_0"]["outcome"] == 2) and np.all(infos["principal_0"]["outcomes"][:, 0] == 2)
    assert np.all(env.state.last_outcome == 2) and np.all(env.state.last_action == 2)
    assert rewards["agent_0"] == pytest.approx(np.full(2000, 0.73 + 0.26 + 1e-6), abs=1e-12)  # s_2 + payment
    assert rewards["principal_0"].mean() == pytest.approx(0.62, abs=0.08)  # sigma = 1 over 2000 envs
    assert rewards["principal_0"].std() == pytest.approx(1.0, abs=0.08)
    assert np.array_equal(infos["principal_0"]["payment"], infos["agent_0"]["payment"])
    assert infos["principal_0"]["payment"] == pytest.approx(np.full(2000, 0.26 + 1e-6), abs=1e-12)
    own = infos["principal_0"]["own_reward"]
    assert rewards["principal_0"] == pytest.approx(own - (0.26 + 1e-6), abs=1e-12)


def test_e8_outcomes_are_hidden_action_draws():
    """E8: the outcome (not the action) is what the principal observes; success rates follow P(success | a)."""
    env = contract_envs.vector.make(ENV, num_envs=4000, seed=1, instance="e8")
    for a, p_success in enumerate([0.1, 0.5, 0.9]):
        env.step({"principal_0": np.zeros((4000, 1, 2))})
        obs, rewards, _, _, infos = env.step({"agent_0": np.full(4000, a)})
        success = infos["agent_0"]["outcome"]
        assert set(np.unique(success)) <= {0, 1}
        assert np.array_equal(obs["principal_0"], success)
        assert success.mean() == pytest.approx(p_success, abs=0.03)
        assert np.array_equal(rewards["principal_0"], success.astype(float))  # theta = [0, 1], no noise, no pay
        assert rewards["agent_0"] == pytest.approx(np.full(4000, [0.0, -0.1, -0.3][a]))


def test_principal_view_with_the_default_best_responder_reaches_the_optimum():
    env = pickle.loads(pickle.dumps(PrincipalGymEnv(ENV, instance="e8", horizon=5)))
    env.reset(seed=0)
    total = 0.0
    for _ in range(2000 // 5):
        env.reset()
        for _ in range(5):
            _, r, _, trunc, info = env.step(np.array([[0.0, 0.5]], dtype=np.float32))
            total += r
        assert trunc
    assert total / 2000 == pytest.approx(0.45, abs=0.03)
    assert info["payment"] in (0.0, 0.5)


def test_gymnasium_id_is_the_principal_view():
    spec = gymnasium.spec("contract_envs/ContractBanditPrincipal-v1")
    assert spec.entry_point == "contract_envs.adapters.views:PrincipalGymEnv"
    assert spec.kwargs == {"env_id": ENV}
    assert gymnasium.spec("contract_envs/CoinGamePrincipal-v1").kwargs == {"env_id": "contract_envs/coin_game-v1"}
    env = gymnasium.make("contract_envs/ContractBanditPrincipal-v1", instance="e8", horizon=3)
    obs, _ = env.reset(seed=0)
    assert obs == 2  # no round played yet: O
    _, reward, _, _, info = env.step(np.array([[0.0, 0.5]], dtype=np.float32))
    success = int(info["outcomes"][0])
    assert success in (0, 1) and reward == pytest.approx(0.5 * success)  # the best responder takes action 2


def test_default_policy_is_the_best_responder():
    game = make_game(instance="e8")
    policy = game.default_policy()
    assert isinstance(policy, BestResponsePolicy)
    assert policy("agent_0", np.array([0.0, 0.5])) == 2  # E8's tie rule: the principal-preferred action
    assert make_game(instance="e8", tie_break="lowest").default_policy()("agent_0", np.array([0.0, 0.5])) == 1
    values = bandit_instance("ipa_k5").agent_values
    for contract in np.random.default_rng(0).uniform(0, 1, (50, 5)):
        assert make_game().default_policy()("agent_0", contract) == int(np.argmax(values + contract))


def test_aec_turn_order_principal_then_agent():
    env = contract_envs.make("aec", ENV, instance="e8", horizon=2)
    env.reset(seed=0)
    assert env.agent_selection == "principal_0"
    env.step(np.array([[0.0, 0.5]], dtype=np.float32))
    assert env.agent_selection == "agent_0"
    assert env.observe("agent_0").tolist() == [0.0, 0.5]  # the offer took effect at once
    env.step(2)
    assert env.agent_selection == "principal_0" and env.infos["agent_0"]["outcome"] in (0, 1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(noise_std=float("nan")), "noise_std"),
        (dict(noise_std=-0.5), "noise_std"),
        (dict(horizon=2.5), "horizon"),
        (dict(horizon=0), "horizon"),
        (dict(payment_cap=-1), "payment_cap"),
        (dict(payment_cap=float("inf")), "payment_cap"),
        (dict(noise="poisson"), "noise"),
        (dict(tie_break="random"), "tie_break"),
        (dict(instance="k7"), "unknown bandit instance"),
    ],
)
def test_invalid_arguments_raise_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        contract_envs.make("parallel", ENV, **kwargs)


def test_invalid_instances_raise():
    with pytest.raises(ValueError, match=r"outcome_probs: shape"):
        BanditInstance(np.zeros(3), np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match="bernoulli"):
        contract_envs.make("parallel", ENV, noise="bernoulli", instance=BanditInstance(np.zeros(2), np.array([2.0, 0])))
    with pytest.raises(ValueError, match="agent_values"):
        BanditInstance(np.array([1 + 1j, 0.0]), np.zeros(2))
    with pytest.raises(ValueError, match="principal_values"):
        BanditInstance(np.zeros(2), np.array(["a", "b"]))
    with pytest.raises(ValueError, match="outcome_probs"):
        BanditInstance(np.zeros(2), np.zeros(2), np.array([[0.5, np.nan], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="noise_std"):
        BanditInstance(np.zeros(2), np.zeros(2), noise_std=float("nan"))
    env = contract_envs.vector.make(ENV, num_envs=1, seed=0)
    with pytest.raises(ValueError, match="principal_0: payment to agent_0 for outcome 3"):
        env.step({"principal_0": np.array([[0, 0, 0, -1.0, 0]])})
