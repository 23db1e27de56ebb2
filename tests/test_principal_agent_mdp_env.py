"""principal_agent_mdp-v1: rules, ledger, errors, batched API (the generic battery is in test_battery.py)."""

import numpy as np
import pytest

import contract_envs
from contract_envs import vector
from contract_envs.games.principal_agent_mdp import (
    PrincipalAgentMDPSpec,
    hidden_action_e8,
    random_binary_tree,
    random_mdp,
)
from contract_envs.solvers import solve_spe
from tests.battery import run_battery

ENV_ID = "contract_envs/principal_agent_mdp-v1"


def test_battery_cyclic_mdp_with_three_outcomes():
    run_battery(ENV_ID, {"spec": random_mdp(6, 3, 3, gamma=0.9, seed=1), "horizon": 12})


def test_registry_and_make():
    import pettingzoo

    par = pettingzoo.make("parallel", ENV_ID)
    aec = pettingzoo.make("aec", ENV_ID)
    assert par.possible_agents == ["principal_0", "agent_0"]
    assert aec.possible_agents == ["principal_0", "agent_0"]
    assert ENV_ID in contract_envs.env_ids()
    assert contract_envs.make("parallel", "principal_agent_mdp_v1").metadata["name"] == "principal_agent_mdp_v1"
    with pytest.raises(ValueError, match="unknown environment id"):
        contract_envs.make("parallel", "contract_envs/nope-v0")
    with pytest.raises(ValueError, match="version 0 is not available; the current version is"):
        contract_envs.make("parallel", "contract_envs/principal_agent_mdp-v0")
    from contract_envs.envs import principal_agent_mdp_v1  # PettingZoo's module convention

    assert principal_agent_mdp_v1.parallel_env().possible_agents == ["principal_0", "agent_0"]
    with pytest.raises(ValueError, match="env_type"):
        contract_envs.make("vector", ENV_ID)


def _play_solved_principal(env, sol, seed):
    """One episode: the solved principal's contracts, the agent taking the recommended action."""
    obs, infos = env.reset(seed=seed)
    total = {"principal_0": 0.0, "agent_0": 0.0}
    while env.agents:
        s = int(obs["principal_0"])
        obs, rew, *_ = env.step({"principal_0": sol.contract[s][None].astype(np.float32), "agent_0": 0})
        assert infos["principal_0"]["acting"] and not infos["agent_0"]["acting"]
        np.testing.assert_allclose(obs["agent_0"]["contract"], sol.contract[s].astype(np.float32))
        obs, rew, term, trunc, infos = env.step(
            {"principal_0": np.zeros((1, 2), np.float32), "agent_0": int(sol.recommended_action[s])}
        )
        for p in total:
            total[p] += rew[p]
        assert infos["principal_0"]["payment"] == infos["agent_0"]["payment"]  # money is conserved
    return total, infos


def test_solved_principal_earns_the_exact_value_on_average():
    spec = random_binary_tree(4, seed=3)
    sol = solve_spe(spec)
    env = contract_envs.make("parallel", ENV_ID, spec=spec)
    returns = np.array([[v for v in _play_solved_principal(env, sol, seed)[0].values()] for seed in range(3000)])
    sem = returns.std(0) / np.sqrt(len(returns))
    assert abs(returns[:, 0].mean() - sol.principal_value) < 4 * sem[0]
    assert abs(returns[:, 1].mean() - sol.agent_value) < 4 * sem[1]


def test_episode_ledger_matches_rewards():
    spec = random_binary_tree(3, seed=0)
    total, infos = _play_solved_principal(contract_envs.make("parallel", ENV_ID, spec=spec), solve_spe(spec), 0)
    assert infos["principal_0"]["episode_utility"] == pytest.approx(total["principal_0"])
    assert infos["agent_0"]["episode_utility"] == pytest.approx(total["agent_0"])
    assert infos["principal_0"]["episode_welfare"] == pytest.approx(
        infos["principal_0"]["episode_own_reward"] + infos["agent_0"]["episode_own_reward"]
    )


def test_e8_one_shot_round():
    env = contract_envs.make("parallel", ENV_ID, spec=hidden_action_e8())
    env.reset(seed=0)
    env.step({"principal_0": np.array([[0.0, 0.5]], np.float32), "agent_0": 0})
    _, rew, term, trunc, infos = env.step({"principal_0": np.zeros((1, 2), np.float32), "agent_0": 2})
    assert term["agent_0"] and term["principal_0"] and not env.agents
    paid = infos["agent_0"]["payment"]
    assert paid in (0.0, 0.5)
    assert rew["agent_0"] == pytest.approx(-0.3 + paid)
    assert rew["principal_0"] == pytest.approx((1.0 if paid else 0.0) - paid)


def test_bad_input_in_env_raises_clear_errors():
    env = contract_envs.make(
        "parallel",
        ENV_ID,
    )
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"principal_0: payment to agent_0 for outcome 1 is -1.0"):
        env.step({"principal_0": np.array([[0.0, -1.0]]), "agent_0": 0})
    with pytest.raises(ValueError, match=r"principal_0: contract has shape \(2,\)"):
        env.step({"principal_0": np.array([0.0, 1.0]), "agent_0": 0})
    with pytest.raises(ValueError, match="principal_0: no move given in stage 'offer'"):
        env.step({"agent_0": 0})
    env.step({"principal_0": np.zeros((1, 2)), "agent_0": 0})
    with pytest.raises(ValueError, match=r"agent_0: action 2 is out of range; allowed \[0, 1\]"):
        env.step({"principal_0": np.zeros((1, 2)), "agent_0": 2})
    # A finished episode cannot be stepped.
    env = contract_envs.make("parallel", ENV_ID, spec=hidden_action_e8())
    env.reset(seed=0)
    env.step({"principal_0": np.zeros((1, 2)), "agent_0": 0})
    env.step({"principal_0": np.zeros((1, 2)), "agent_0": 0})
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({"principal_0": np.zeros((1, 2)), "agent_0": 0})


def test_spec_validation_errors():
    good = hidden_action_e8()
    kw = dict(
        outcome_probs=good.outcome_probs,
        agent_reward=good.agent_reward,
        principal_reward=good.principal_reward,
        transitions=good.transitions,
        terminal=good.terminal,
    )
    with pytest.raises(ValueError, match="not a distribution"):
        PrincipalAgentMDPSpec(**{**kw, "outcome_probs": good.outcome_probs * 1.01})
    with pytest.raises(ValueError, match=r"agent_reward: shape \(3,\); expected \(2, 3\)"):
        PrincipalAgentMDPSpec(**{**kw, "agent_reward": np.zeros(3)})
    with pytest.raises(ValueError, match="NaN or inf"):
        PrincipalAgentMDPSpec(**{**kw, "principal_reward": np.array([[0, np.nan], [0, 0]])})
    bad_t = np.array(good.transitions, dtype=float)
    bad_t[1, 0] = [1.0, 0.0]  # terminal state 1 would leave itself
    with pytest.raises(ValueError, match="absorbing"):
        PrincipalAgentMDPSpec(**{**kw, "transitions": bad_t})
    with pytest.raises(ValueError, match="sums to"):
        PrincipalAgentMDPSpec(**{**kw, "transitions": np.full((2, 2, 2), 0.7)})
    with pytest.raises(ValueError, match="gamma"):
        PrincipalAgentMDPSpec(**kw, gamma=1.5)
    with pytest.raises(ValueError, match="terminal states must have zero"):
        PrincipalAgentMDPSpec(**{**kw, "agent_reward": np.array([[0, -0.1, -0.3], [1.0, 0, 0]])})


def test_batched_env_b_equals_single_env_seeded_s_plus_b():
    spec = random_mdp(5, 2, 3, gamma=0.9, seed=2)
    num_envs, seed, rounds = 6, 100, 30
    vec = vector.make(ENV_ID, num_envs, seed=seed, spec=spec, horizon=7)
    rng = np.random.default_rng(0)
    contracts = rng.uniform(0, 2, (rounds, num_envs, 1, 3))
    actions = rng.integers(0, 2, (rounds, num_envs))
    batched = []
    for t in range(rounds):
        vec.step({"principal_0": contracts[t]})
        obs, rew, term, trunc, _ = vec.step({"agent_0": actions[t]})
        done = term["agent_0"] | trunc["agent_0"]
        batched.append((obs["principal_0"].copy(), rew["agent_0"].copy(), rew["principal_0"].copy(), done))
    for b in range(num_envs):
        env = contract_envs.make("parallel", ENV_ID, spec=spec, horizon=7)
        env.reset(seed=seed + b)
        for t in range(rounds):
            if not env.agents:
                env.reset()
            env.step({"principal_0": contracts[t, b], "agent_0": 0})
            obs, rew, term, trunc, _ = env.step({"principal_0": contracts[t, b], "agent_0": int(actions[t, b])})
            done = term["agent_0"] or trunc["agent_0"]
            assert bool(batched[t][3][b]) == done
            assert rew["agent_0"] == batched[t][1][b] and rew["principal_0"] == batched[t][2][b]
            if not done:
                assert int(obs["principal_0"]) == batched[t][0][b]


def test_vector_autoreset_reports_finished_episode_totals():
    vec = vector.make(ENV_ID, 3, seed=0, spec=hidden_action_e8())
    vec.step({"principal_0": np.tile([[[0.0, 0.5]]], (3, 1, 1))})
    obs, rew, term, trunc, infos = vec.step({"agent_0": np.array([2, 2, 2])})
    assert term["agent_0"].all()
    np.testing.assert_array_equal(obs["principal_0"], [0, 0, 0])  # already reset
    np.testing.assert_array_equal(vec.final_observations["principal_0"], [1, 1, 1])
    np.testing.assert_allclose(infos["principal_0"]["episode_utility"], rew["principal_0"])
    np.testing.assert_allclose(infos["principal_0"]["episode_payment"], infos["agent_0"]["episode_payment"])
    assert vec.stage_names[vec.stage] == "offer"
