"""PARL Coin Game baselines: learning at CI scale, the exact evaluation (DP) against simulation, the PARL pieces."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from baselines import dqn_independent
from baselines import parl_coin_game as parl
from baselines.parl_coin_game import (
    CoinQNetwork,
    JointReplay,
    SumTree,
    TwoAgentCoinGameDP,
    min_pay_amounts,
    one_hot_contracts,
    others_following,
    resample_follow_bits,
    taken_actions,
    vdn_targets,
)
from contract_envs import vector
from contract_envs.games.coin_game import coin_game_rules
from contract_envs.solvers import coin_game_state_from_observation, solve_coin_game_welfare
from contract_envs.solvers.min_pay import min_pay_contract

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_KEYS = {"schema", "algorithm", "env_id", "env_kwargs", "seed", "args", "final", "history", "wall_clock_s"}
SCHEMA_KEYS |= {"versions", "eval"}
TINY = ["--preset", "parl_3x3", "--num-envs", "4", "--learning-starts", "64", "--batch-size", "16"]
TINY += ["--eval-episodes", "16", "--log-window", "4", "--save-model"]


def run(script: str, args: list[str], tmp_path) -> dict:
    cmd = [sys.executable, os.path.join(ROOT, "baselines", script), *args, "--runs-dir", str(tmp_path / "runs")]
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_folders(tmp_path) -> list:
    return sorted((tmp_path / "runs").iterdir())


def check_schema(metrics: dict, algorithm: str, seed: int) -> None:
    assert set(metrics) == SCHEMA_KEYS
    assert metrics["schema"] == "contract-envs/metrics/v1"
    assert metrics["algorithm"] == algorithm and metrics["env_id"] == "contract_envs/coin_game-v1"
    assert metrics["seed"] == seed and metrics["args"]["seed"] == seed
    assert metrics["versions"]["torch"] == torch.__version__
    assert all(isinstance(v, float) for v in metrics["final"].values())


# ------------------------------------------------------------------ learning at CI scale
def test_parl_learns_on_3x3_and_beats_selfish_welfare(tmp_path):
    """PARL (a fixed seed, CI budget) lifts welfare clearly above selfish play; its exact DP scores match simulation.

    Selfish reference: the scripted greedy policy (every agent walks to the nearest coin of any colour), about
    what selfish DQN agents learn on this preset (59% of W*). A reload of the saved model evaluates identically.
    """
    from benchmarks.coin_game_dilemma import Args as DilemmaArgs
    from benchmarks.coin_game_dilemma import scripted_welfare

    budget = ["--preset", "parl_3x3", "--num-envs", "32", "--total-env-steps", "32000"]
    budget += ["--validation-env-steps", "24000", "--eval-episodes", "128", "--save-model", "--seed", "3"]
    final = run("parl_coin_game.py", budget, tmp_path)
    selfish = scripted_welfare("parl_3x3", "random", "greedy", DilemmaArgs(num_envs=256, episodes_per_env=2)).mean()
    w_star = solve_coin_game_welfare(coin_game_rules("parl_3x3")).value
    assert final["welfare_optimum"] == pytest.approx(w_star)
    assert selfish < 0.62 * w_star
    assert final["exact_welfare"] > selfish + 1.5  # about 8.2 for selfish play, 13.9 for W*
    assert final["exact_welfare_fraction_of_optimum"] == pytest.approx(final["exact_welfare"] / w_star)
    # the exact DP of the deployed system agrees with the simulated greedy episodes
    se = final["eval_welfare_se"]
    assert abs(final["eval_welfare"] - final["exact_welfare"]) < 4 * se
    assert final["exact_follow_rate"] > 0.6
    # a best response is worth at least following, and the ratios are utility ratios of the DP's values
    assert final["ic_ratio"] >= 1.0 - 1e-9 and final["spe_ratio"] >= 1.0 - 1e-9
    assert final["ic_deviation_gain"] >= -1e-9
    # PARL's binary deviations (follow or ignore contracts throughout) are a subset of all deviations
    assert 1.0 - 1e-9 <= final["ic_ratio_binary"] <= final["ic_ratio"] + 1e-9
    assert 1.0 - 1e-9 <= final["spe_ratio_binary"] <= final["spe_ratio"] + 1e-9
    (folder,) = run_folders(tmp_path)
    metrics = json.loads((folder / "metrics.json").read_text())
    check_schema(metrics, "parl_coin_game", 3)
    assert metrics["eval"] is None and {h["phase"] for h in metrics["history"]} == {"training", "validation"}
    assert metrics["env_kwargs"]["welfare_weight"] == pytest.approx(10.0)
    checkpoint = ["--eval-checkpoint", str(folder / "model.pt"), "--eval-episodes", "128"]
    evaluated = run("parl_coin_game.py", checkpoint, tmp_path)
    for key in ("eval_welfare", "eval_payments", "eval_follow_rate", "exact_welfare", "ic_ratio", "spe_ratio"):
        assert evaluated[key] == pytest.approx(final[key], rel=1e-6)
    (new_folder,) = (f for f in run_folders(tmp_path) if f != folder)
    reloaded = json.loads((new_folder / "metrics.json").read_text())
    assert reloaded["eval"]["checkpoint"] == str(folder / "model.pt")
    assert reloaded["args"]["total_env_steps"] == 32000  # the checkpoint's args, not the CLI defaults


def test_parl_code_paths_prioritized_replay_three_agents_cuda_flag(tmp_path):
    """Prioritized replay, three agents (scored against the upper bound) and --cuda without a GPU run end to end."""
    budget = ["--total-env-steps", "160", "--validation-env-steps", "160", "--n-agents", "3"]
    final = run("parl_coin_game.py", [*TINY, *budget, "--prioritized-replay", "--cuda", "--nudge", "0.05"], tmp_path)
    assert final["training_env_steps"] == 160 and final["training_episodes"] == 8  # 20-step episodes, 4 envs
    assert final["cuda"] == float(torch.cuda.is_available())
    assert "welfare_upper_bound" in final and "exact_welfare" not in final  # no exact DP for three agents
    assert final["eval_welfare_fraction_of_upper_bound"] == pytest.approx(
        final["eval_welfare"] / final["welfare_upper_bound"]
    )


def test_dqn_independent_end_to_end_and_checkpoint(tmp_path):
    final = run("dqn_independent.py", [*TINY, "--total-env-steps", "160", "--reward-sharing", "0.3"], tmp_path)
    assert final["env_steps"] == 160 and final["train_episodes"] == 8
    # welfare is read off the coins: own-colour coins pay 1, the others 0.2
    share, coins = final["eval_own_coin_share"], final["eval_coins"]
    assert final["eval_welfare"] == pytest.approx(coins * (share + 0.2 * (1 - share)))
    (folder,) = run_folders(tmp_path)
    metrics = json.loads((folder / "metrics.json").read_text())
    check_schema(metrics, "dqn_independent", 1)
    assert metrics["env_kwargs"]["reward_sharing"] == pytest.approx(0.3)
    checkpoint = ["--eval-checkpoint", str(folder / "model.pt"), "--eval-episodes", "16"]
    evaluated = run("dqn_independent.py", checkpoint, tmp_path)
    assert evaluated["eval_welfare"] == pytest.approx(final["eval_welfare"])


@pytest.mark.parametrize("bad", [["--n-agents", "1"], ["--num-envs", "0"], ["--follow-prob", "1.5"]])
def test_parl_rejects_bad_arguments_at_once(bad):
    option = bad[0]
    with pytest.raises(ValueError, match=option):
        parl.check_args(parl.Args(**{option[2:].replace("-", "_"): float(bad[1])}))


# ------------------------------------------------------------------ exact evaluation by DP
def policy_tables(dp: TwoAgentCoinGameDP, seed: int, amount_scale: float = 1.0):
    rng = np.random.default_rng(seed)
    shape = (dp.n_states, 2)
    actions, rec = rng.integers(0, 4, shape), rng.integers(0, 4, shape)
    amounts = (amount_scale * rng.random(shape)).astype(np.float32).astype(np.float64)
    return actions, rec, amounts


def simulate(rules_kwargs: dict, tables, episodes: int, seed: int = 0, responder_policy=None) -> dict:
    """Play policy tables in the environment itself (state decoded from agent_0's observation)."""
    actions, rec, amounts = tables
    env = vector.make("contract_envs/coin_game-v1", episodes, seed=seed, principal=True, **rules_kwargs)
    rules = env.game.rules
    dp = TwoAgentCoinGameDP(rules)
    obs, _ = env.reset(seed=seed)
    totals = {k: np.zeros(episodes) for k in ("utility_0", "utility_1", "welfare", "payments", "follow_0")}
    for _ in range(rules.horizon):
        cells, coins, colours = coin_game_state_from_observation(rules, obs["agent_0"]["grid"])
        s = dp.index(cells[:, 0], cells[:, 1], coins[:, 0], colours[:, 0])
        act = actions[s].copy()
        if responder_policy is not None:
            act[:, 0] = responder_policy(obs["agent_0"]["grid"])
        env.step({"principal_0": one_hot_contracts(rec[s], amounts[s].astype(np.float32), 4)})
        obs, rewards, _, _, infos = env.step({"agent_0": act[:, 0], "agent_1": act[:, 1]})
        for i in (0, 1):
            totals[f"utility_{i}"] += rewards[f"agent_{i}"]
        totals["welfare"] += infos["agent_0"]["own_reward"] + infos["agent_1"]["own_reward"]
        totals["payments"] += infos["agent_0"]["payment"] + infos["agent_1"]["payment"]
        totals["follow_0"] += act[:, 0] == rec[s][:, 0]
    return {k: (v.mean(), v.std(ddof=1) / np.sqrt(episodes)) for k, v in totals.items()}


@pytest.mark.parametrize(
    "rules_kwargs",
    [{"preset": "parl_3x3"}, {"preset": "parl_3x3", "tie_rule": "all", "coins": "random"}],
    ids=["parl_3x3", "all_ties_random_coins"],
)
def test_dp_policy_evaluation_matches_simulation(rules_kwargs):
    rules = coin_game_rules(**rules_kwargs)
    dp = TwoAgentCoinGameDP(rules)
    tables = policy_tables(dp, seed=1)
    exact = dp.evaluate(*tables)
    simulated = simulate(rules_kwargs, tables, episodes=3000)
    for key, (mean, se) in simulated.items():
        assert abs(exact[key] - mean) < 4 * se + 1e-9, (key, exact[key], mean, se)
    assert exact["welfare"] == pytest.approx(exact["utility_0"] + exact["utility_1"] - exact["payments"])


def test_dp_frames_are_the_environment_observations():
    rules = coin_game_rules("parl")
    dp = TwoAgentCoinGameDP(rules)
    frames, swapped = dp.frames_of_agent_0(), dp.swapped()
    env = vector.make("contract_envs/coin_game-v1", 64, seed=5, preset="parl", principal=False)
    obs, _ = env.reset(seed=5)
    for _ in range(30):
        cells, coins, colours = coin_game_state_from_observation(rules, obs["agent_0"])
        s = dp.index(cells[:, 0], cells[:, 1], coins[:, 0], colours[:, 0])
        np.testing.assert_array_equal(frames[s], obs["agent_0"])
        np.testing.assert_array_equal(frames[swapped[s]], obs["agent_1"])  # agent_1 sees the swapped state
        obs, *_ = env.step({a: np.random.default_rng(0).integers(0, 4, 64) for a in env.agents})


def test_dp_best_response_beats_every_simulated_deviation_and_equals_following_when_paid_enough():
    from benchmarks.coin_game_dilemma import walk_towards

    rules = coin_game_rules("parl_3x3")
    dp = TwoAgentCoinGameDP(rules)
    actions, rec, amounts = policy_tables(dp, seed=2)
    fixed = actions.copy()
    fixed[:, 0] = rec[:, 0]
    follow = dp.evaluate(fixed, rec, amounts)["utility_0"]
    best = dp.best_response_value(fixed, rec, amounts, responder=0)
    rng = np.random.default_rng(0)
    deviations = {
        "greedy coin walker": lambda grid: walk_towards(grid, [2, 3], rng),
        "own-colour walker": lambda grid: walk_towards(grid, [2], rng),
        "random moves": lambda grid: rng.integers(0, 4, len(grid)),
    }
    for name, policy in deviations.items():
        mean, se = simulate({"preset": "parl_3x3"}, (fixed, rec, amounts), 2000, responder_policy=policy)["utility_0"]
        assert best > mean - 4 * se, name
    assert best > follow + 1.0  # random recommendations are worth deviating from
    # pay 1000 for every recommendation: no deviation can win back the payment (20 rounds, coins worth <= 1)
    rich = np.full_like(amounts, 1000.0)
    assert dp.best_response_value(fixed, rec, rich, responder=0) == pytest.approx(
        dp.evaluate(fixed, rec, rich)["utility_0"], rel=1e-12
    )


def test_dp_rejects_rules_it_does_not_model():
    with pytest.raises(ValueError, match="n_agents"):
        TwoAgentCoinGameDP(coin_game_rules("parl_3x3", n_agents=3))
    with pytest.raises(ValueError, match="owner_penalty"):
        TwoAgentCoinGameDP(coin_game_rules("rllib"))


# ------------------------------------------------------------------ contracts
@pytest.mark.parametrize("nudge", [0.0, 0.3])
def test_min_pay_closed_form_matches_lp(nudge):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 4)) * 3
    rec = rng.integers(0, 4, 50)
    amounts = min_pay_amounts(torch.as_tensor(q), torch.as_tensor(rec), nudge).numpy()
    identity = np.eye(4)  # observed action: the outcome is the action
    for k in range(50):
        lp = min_pay_contract(identity, q[k], int(rec[k]), margin=nudge)
        assert lp is not None
        np.testing.assert_allclose(lp, identity[rec[k]] * amounts[k], atol=1e-7)


def test_min_pay_contract_implements_recommendation_in_env():
    """The one-hot contract leaves the agent (weakly) preferring the recommendation, and is paid iff followed."""
    q = np.array([[1.0, 3.0, 0.5, 2.0], [0.0, 0.0, 1.0, 0.0]])
    rec = np.array([0, 2])
    amounts = min_pay_amounts(torch.as_tensor(q), torch.as_tensor(rec)).numpy()
    contracts = one_hot_contracts(rec[None], amounts[None], 4)[0]
    np.testing.assert_allclose(amounts, [2.0, 0.0])
    np.testing.assert_allclose((q + contracts)[[0, 1], rec], [3.0, 1.0])  # tied with the best alternative
    env = vector.make("contract_envs/coin_game-v1", 1, seed=0, preset="parl_3x3", principal=True)
    env.step({"principal_0": contracts[None]})
    _, rewards, _, _, infos = env.step({"agent_0": np.array([0]), "agent_1": np.array([1])})
    assert infos["agent_0"]["payment"][0] == pytest.approx(2.0)  # followed: paid
    assert infos["agent_1"]["payment"][0] == 0.0  # deviated: not paid


# ------------------------------------------------------------------ VDN targets
def test_vdn_reward_is_env_principal_reward_over_welfare_weight():
    """With every agent following, sum_i (r_i - alpha b_i) is the env's principal reward divided by 1/alpha."""
    env = vector.make("contract_envs/coin_game-v1", 8, seed=3, preset="parl_3x3", principal=True, welfare_weight=10.0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        rec, amounts = rng.integers(0, 4, (8, 2)), rng.random((8, 2)).astype(np.float32)
        env.step({"principal_0": one_hot_contracts(rec, amounts, 4)})
        _, rewards, _, _, infos = env.step({"agent_0": rec[:, 0], "agent_1": rec[:, 1]})
        own = np.stack([infos[a]["own_reward"] for a in ("agent_0", "agent_1")], axis=1)
        zero = torch.zeros(8, 2, 4)
        y = vdn_targets(torch.as_tensor(own), torch.as_tensor(amounts), zero, torch.zeros(8), 0.99, 0.1).numpy()
        np.testing.assert_allclose(y, rewards["principal_0"] / 10.0, atol=1e-6)


def test_vdn_bootstrap_sums_each_agents_greedy_value():
    next_q = torch.tensor([[[1.0, 5.0], [2.0, -1.0]], [[0.0, 0.0], [3.0, 4.0]]])
    zero = torch.zeros(2, 2)
    y = vdn_targets(zero, zero, next_q, torch.tensor([0.0, 1.0]), gamma=0.5, alpha=0.1)
    np.testing.assert_allclose(y.numpy(), [0.5 * (5.0 + 2.0), 0.0])


# ------------------------------------------------------------------ follow bits and replay
def test_follow_bits_resampled_only_at_episode_end():
    rng = np.random.default_rng(0)
    bits = resample_follow_bits(np.zeros((1000, 2), dtype=bool), np.ones(1000, dtype=bool), 0.5, rng)
    done = np.zeros(1000, dtype=bool)
    done[:500] = True
    new = resample_follow_bits(bits, done, 0.5, rng)
    np.testing.assert_array_equal(new[500:], bits[500:])
    assert (new[:500] != bits[:500]).any()
    assert resample_follow_bits(bits, np.ones(1000, dtype=bool), 1.0, rng).all()
    assert not resample_follow_bits(bits, np.ones(1000, dtype=bool), 0.0, rng).any()


def test_others_following_and_taken_actions():
    bits = np.array([[1, 0, 1], [0, 1, 1]], dtype=bool)
    np.testing.assert_allclose(others_following(bits)[..., 0], [[0.5, 1.0, 0.5], [1.0, 0.5, 0.5]])
    np.testing.assert_array_equal(others_following(np.array([[1, 0]], dtype=bool))[..., 0], [[0.0, 1.0]])
    rec, selfish = np.array([[0, 1, 2], [3, 3, 3]]), np.array([[3, 3, 3], [0, 1, 2]])
    np.testing.assert_array_equal(taken_actions(bits, rec, selfish), [[0, 3, 2], [0, 3, 3]])


def test_sum_tree_samples_in_proportion_to_priorities():
    tree = SumTree(5)
    priorities = np.array([1.0, 0.0, 3.0, 6.0, 0.0])
    tree.update(np.arange(5), priorities)
    assert tree.tree[1] == pytest.approx(10.0)
    counts = np.bincount(tree.sample(np.random.default_rng(0), 100_000, filled=5), minlength=5)
    np.testing.assert_allclose(counts / 100_000, priorities / 10.0, atol=0.005)
    tree.update(np.array([3]), np.array([0.0]))  # updates propagate to the root
    assert tree.tree[1] == pytest.approx(4.0)
    assert set(np.unique(tree.sample(np.random.default_rng(1), 1000, filled=5))) == {0, 2}


def test_prioritized_replay_gives_new_transitions_the_largest_priority():
    rb = JointReplay(8, 2, (4, 3, 3), 1, np.random.default_rng(0), ("principal",))
    zeros = {"obs": np.zeros((4, 2, 4, 3, 3), np.uint8), "actions": np.zeros((4, 2), np.int64)}
    rb.add(**zeros)
    rb.update_priorities("principal", np.arange(4), torch.tensor([0.0, 0.0, 0.0, 81.0]))
    assert rb.trees["principal"].max_priority == pytest.approx(81.0**0.4)
    rb.add(**zeros)  # slots 4..7 enter at the largest priority
    leaves = rb.trees["principal"].tree[8:16]
    np.testing.assert_allclose(leaves[4:], 81.0**0.4)
    np.testing.assert_allclose(leaves[:3], 1e-7**0.4)


def test_follow_bits_constant_within_training_episodes(tmp_path):
    """Bits drawn at reset stay fixed for the whole episode: replayed f_-i is constant per env episode."""
    args = parl.Args(
        preset="parl_3x3",
        num_envs=3,
        total_env_steps=135,
        validation_env_steps=3,
        learning_starts=10**9,
        eval_episodes=1,
        log_window=1,
        runs_dir=str(tmp_path),
        buffer_size=1000,
        exact_evaluation=False,
    )
    seen = {}
    original = parl.JointReplay.add

    def spy(self, **arrays):
        if arrays["extra"].shape[-1] == 1:  # training buffer: extra = f_-i
            seen.setdefault("f", []).append(arrays["extra"][:, :, 0].copy())
        original(self, **arrays)

    parl.JointReplay.add = spy
    try:
        parl.main(args)
    finally:
        parl.JointReplay.add = original
    f = np.stack(seen["f"])  # [iterations, B, N]
    for episode in range(2):  # 20-step episodes
        chunk = f[episode * 20 : (episode + 1) * 20]
        assert (chunk == chunk[0]).all()


def test_q_network_shapes_and_shared_frames():
    net = CoinQNetwork(7, 4, extra_inputs=1)
    x, extra = torch.rand(5, 4, 7, 7), torch.rand(5, 1)
    assert net(x, extra).shape == (5, 4)
    torch.testing.assert_close(net.head(net.features(x), extra), net(x, extra))
    first, second = parl.q_values_two_inputs(net, x[:, None], extra[:, None], torch.ones(5, 1, 1))
    torch.testing.assert_close(second[:, 0], net(x, torch.ones(5, 1)))
    torch.testing.assert_close(first[:, 0], net(x, extra))
    env = vector.make("contract_envs/coin_game-v1", 2, seed=0, preset="parl", principal=False)
    obs, _ = env.reset(seed=0)
    frames = dqn_independent.stack_agent_obs(obs, env.agents)
    # swapped frames: each agent's channel 0 is itself, channel 1 the other agent
    np.testing.assert_array_equal(frames[:, 0, 0], frames[:, 1, 1])
    np.testing.assert_array_equal(frames[:, 0, 1], frames[:, 1, 0])


def test_dilemma_depends_on_tie_rule():
    """Scripted policies: greedy grabbing beats own-colour-only under `all` ties, loses under `random` ties."""
    from benchmarks.coin_game_dilemma import Args, scripted_welfare

    args = Args(num_envs=64, episodes_per_env=2)
    welfare = {
        (tie, policy): scripted_welfare("parl_3x3", tie, policy, args).mean()
        for tie in ("all", "random")
        for policy in ("random", "greedy", "own_only")
    }
    assert welfare[("all", "greedy")] > welfare[("all", "own_only")] > welfare[("all", "random")]
    assert welfare[("random", "own_only")] > welfare[("random", "greedy")] > welfare[("random", "random")]
