"""Tree contract game: PettingZoo battery, exact equilibria (T1, T2, brute force), money and API checks."""

import numpy as np
import pytest

import contract_envs
import contract_envs.vector
from contract_envs.contracts import settle_hierarchy
from contract_envs.envs import tree_contracts_v0
from contract_envs.envs.tree_contracts import TreeInstance, optimality_margin, random_tree_instance, tree_instance
from contract_envs.solvers import solve_tree_contracts
from tests.battery import run_battery


@pytest.mark.parametrize(
    "kwargs",
    [dict(instance="T1"), dict(instance="T2", noise="bernoulli"), dict(instance=1, horizon=20),
     dict(instance="T2", contract_form="vector")],
)
def test_battery(kwargs):
    run_battery(tree_contracts_v0, kwargs)


def test_registered():
    assert "contract_envs/tree_contracts-v0" in contract_envs.env_ids()
    env = contract_envs.make("parallel", "contract_envs/tree_contracts-v0", instance="T2")
    assert env.possible_agents == ["node_0", "node_1", "node_2"]


def test_t1_reference_answers():
    sol = solve_tree_contracts(tree_instance("T1"))
    assert sol.action_profile().tolist() == [0, 1, 1]
    assert sol.welfare == pytest.approx(2.0)
    assert sol.transfers["node_1"] == pytest.approx(0.2) and sol.transfers["node_2"] == pytest.approx(0.5)
    assert sorted(sol.transfers.values()) == pytest.approx([0.2, 0.5])
    assert [sol.utilities[v] for v in range(3)] == pytest.approx([0.7, 0.6, 0.7])
    assert [sol.no_transfer_actions[v] for v in range(3)] == [1, 0, 0]
    assert sol.no_transfer_welfare == pytest.approx(1.8)
    assert sol.no_transfer_utilities[0] == pytest.approx(0.5)
    for got, want in zip(sol.subtree_welfare, [[2.0, 1.8], [1.3, 1.1], [0.7, 0.2]], strict=True):
        assert got.tolist() == pytest.approx(want)
    assert sol.margin == pytest.approx(0.2)


def test_t2_reference_answers():
    sol = solve_tree_contracts(tree_instance("t2"))
    assert sol.action_profile().tolist() == [0, 1, 2]
    assert sol.welfare == pytest.approx(2.0)
    assert sol.transfers[1] == pytest.approx(0.4) and sol.transfers[2] == pytest.approx(0.2)
    assert [sol.utilities[v] for v in range(3)] == pytest.approx([0.3, 0.9, 0.8])
    assert [sol.no_transfer_actions[v] for v in range(3)] == [0, 0, 1]
    assert sol.no_transfer_welfare == pytest.approx(1.9)
    assert sol.margin == pytest.approx(0.1)


def _brute_subtree(inst: TreeInstance, v: int, profiles: np.ndarray, rewards: np.ndarray):
    """Best subtree welfare of v overall and per own action, by enumeration of all joint profiles."""
    members = [v]
    for u in range(v + 1, inst.n_nodes):
        if inst.parents[u] in members:
            members.append(u)
    sub = rewards[:, members].sum(1)
    per_action = np.array([sub[profiles[:, v] == a].max() for a in range(inst.n_actions[v])])
    return sub.max(), per_action


@pytest.mark.parametrize("seed", range(12))
def test_solver_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    inst = random_tree_instance(seed=seed, depth=int(rng.integers(1, 3)), branching=int(rng.integers(1, 3)))
    sol = solve_tree_contracts(inst)
    profiles = inst.all_profiles()
    rewards = inst.rewards(profiles)
    welfare = rewards.sum(1)
    order = np.sort(welfare)
    assert sol.welfare == pytest.approx(order[-1])
    assert order[-1] - order[-2] >= 0.05 - 1e-9 and sol.margin == pytest.approx(order[-1] - order[-2])
    assert sol.action_profile().tolist() == profiles[np.argmax(welfare)].tolist()
    total_utility = sum(sol.utilities[v] for v in range(inst.n_nodes))
    assert total_utility == pytest.approx(sol.welfare)  # transfers cancel
    for w in range(1, inst.n_nodes):
        best, per_action = _brute_subtree(inst, w, profiles, rewards)
        assert sol.transfers[w] == pytest.approx(best - per_action[sol.actions[w]])
        kids_best = sum(_brute_subtree(inst, c, profiles, rewards)[0] for c in inst.children[w])
        assert sol.utilities[w] == pytest.approx(best - kids_best)  # exactly the outside option
    # without transfers every node best-responds to its children's selfish actions, bottom-up
    a = np.array([sol.no_transfer_actions[v] for v in range(inst.n_nodes)])
    for v in range(inst.n_nodes):
        alt = np.repeat(a[None], inst.n_actions[v], 0)
        alt[:, v] = np.arange(inst.n_actions[v])
        assert inst.rewards(alt)[:, v].max() == pytest.approx(inst.rewards(a[None])[0, v])
    assert sol.no_transfer_welfare <= sol.welfare + 1e-12


def test_settle_hierarchy_conserves_money():
    rng = np.random.default_rng(0)
    parents = np.array([-1, 0, 0, 1, 1, 2, -1, 6])  # a forest: two roots
    contracts = rng.uniform(0, 1, (50, 8, 3))
    outcomes = rng.integers(0, 3, (50, 8))
    own = rng.normal(size=(50, 8))
    s = settle_hierarchy(contracts, outcomes, own, parents)
    assert np.allclose(s.received.sum(1), s.paid.sum(1)) and np.allclose(s.utility.sum(1), s.welfare)
    assert np.all(s.received[:, [0, 6]] == 0)
    assert np.allclose(s.received[:, 3], contracts[np.arange(50), 3, outcomes[:, 3]])
    assert np.allclose(s.paid[:, 1], s.received[:, 3] + s.received[:, 4])
    with pytest.raises(ValueError, match="parents"):
        settle_hierarchy(contracts, outcomes, own, parents[:5])


def test_solver_accepts_names_and_seeds():
    assert solve_tree_contracts("T1").welfare == pytest.approx(2.0)
    assert solve_tree_contracts(4).welfare == solve_tree_contracts(tree_instance(4)).welfare
    assert solve_tree_contracts("T1").transfers.get(2) == pytest.approx(0.5)


def test_generator_rejects_non_unique_optima():
    assert optimality_margin(tree_instance("T1")) == pytest.approx(0.2)
    tied = TreeInstance((-1, 0), (np.array([[0.5, 0.5], [0.1, 0.1]]), np.array([0.3, 0.3])))
    assert optimality_margin(tied) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="unique optimum"):
        random_tree_instance(seed=0, depth=3, branching=3, n_actions=3, margin=0.5, max_tries=3)
    a, b = tree_instance(5), tree_instance(5)
    assert all(np.array_equal(x, y) for x, y in zip(a.theta, b.theta, strict=True))


def _round(env, actions_by_node):
    """Play one round on a batched env: offer stages then act; returns the act step's outputs."""
    while True:
        kind = env.game.stages[env.stage_index][0]
        out = env.step(actions_by_node)
        if kind == "act":
            return out


def test_equilibrium_contracts_settle_exactly_and_conserve_money():
    env = contract_envs.vector.make("contract_envs/tree_contracts-v0", num_envs=4, seed=0, instance="T1",
                                    noise_std=0.0)
    actions = {
        "node_0": {"action": np.zeros(4, int), "recommendations": np.ones((4, 1), int),
                   "transfers": np.full((4, 1), 0.2)},
        "node_1": {"action": np.ones(4, int), "recommendations": np.ones((4, 1), int),
                   "transfers": np.full((4, 1), 0.5)},
        "node_2": np.ones(4, int),
    }
    _, rewards, _, _, infos = _round(env, actions)
    for v, u in enumerate([0.7, 0.6, 0.7]):
        assert rewards[f"node_{v}"] == pytest.approx(np.full(4, u))
    assert infos["node_0"]["welfare"] == pytest.approx(np.full(4, 2.0))
    received = sum(infos[p]["payment_received"] for p in env.possible_agents)
    paid = sum(infos[p]["payment_paid"] for p in env.possible_agents)
    assert np.array_equal(received, paid) and received == pytest.approx(np.full(4, 0.7))
    # the child that refuses its recommendation is not paid
    actions["node_2"] = np.array([1, 0, 1, 0])
    _, rewards, _, _, infos = _round(env, actions)
    assert infos["node_2"]["payment_received"] == pytest.approx([0.5, 0, 0.5, 0])
    assert infos["node_1"]["payment_paid"] == pytest.approx([0.5, 0, 0.5, 0])


def test_observations_are_bandit_feedback():
    env = contract_envs.vector.make("contract_envs/tree_contracts-v0", num_envs=1, seed=3, instance="T1")
    obs, _ = env.reset(seed=3)
    assert set(obs["node_0"]) == {"stage", "last_reward", "children_actions"}
    assert set(obs["node_2"]) == {"stage", "contract", "last_reward"}
    obs, *_ = env.step({"node_0": {"recommendations": [[1]], "transfers": [[0.3]]}})
    assert obs["node_1"]["contract"].tolist() == [[0.0, pytest.approx(0.3)]]
    assert obs["node_2"]["contract"].tolist() == [[0.0, 0.0]]  # grandchild does not see it
    env.step({"node_1": {"recommendations": [[0]], "transfers": [[0.0]]}})
    obs, rewards, _, _, infos = env.step({"node_0": [1], "node_1": [1], "node_2": [0]})
    assert obs["node_0"]["children_actions"].tolist() == [[1]]
    assert obs["node_1"]["children_actions"].tolist() == [[0]]
    mean = tree_instance("T1").rewards(np.array([[1, 1, 0]]))[0]
    last = np.array([obs[p]["last_reward"][0, 0] for p in env.possible_agents])
    assert np.all(np.abs(last - mean) < 0.6)  # noisy around the mean (sigma 0.1)
    assert infos["node_0"]["own_reward"] == pytest.approx(last[0], abs=1e-6)


def test_batch_matches_single_envs():
    b = 3
    batch = contract_envs.vector.make("contract_envs/tree_contracts-v0", num_envs=b, seed=10, instance="T2")
    singles = [contract_envs.vector.make("contract_envs/tree_contracts-v0", num_envs=1, seed=10 + i, instance="T2")
               for i in range(b)]
    rng = np.random.default_rng(0)
    for _ in range(5):
        acts = rng.integers(0, 3, (b, 3))
        rec = rng.integers(0, 3, (b, 2))
        tr = rng.uniform(0, 1, (b, 2))
        full = {"node_0": {"action": acts[:, 0], "recommendations": rec, "transfers": tr},
                "node_1": acts[:, 1], "node_2": acts[:, 2]}
        _, rb, *_ = _round(batch, full)
        for i, env in enumerate(singles):
            one = {"node_0": {"action": acts[i:i + 1, 0], "recommendations": rec[i:i + 1], "transfers": tr[i:i + 1]},
                   "node_1": acts[i:i + 1, 1], "node_2": acts[i:i + 1, 2]}
            _, r1, *_ = _round(env, one)
            for p in batch.possible_agents:
                assert r1[p][0] == rb[p][i]


@pytest.mark.parametrize(
    "offer, match",
    [({"recommendations": [[1]], "transfers": [[-0.1]]}, "node_0: payment to agent_0 .* node_1"),
     ({"recommendations": [[2]], "transfers": [[0.1]]}, "recommended action 2 for node_1 is out of range"),
     ({"recommendations": [[1]], "transfers": [[np.nan]]}, "node_0"),
     ({"transfers": [[0.1]]}, "no 'recommendations' entry")],
)
def test_invalid_offers_raise(offer, match):
    env = contract_envs.vector.make("contract_envs/tree_contracts-v0", num_envs=1, seed=0, instance="T1")
    with pytest.raises(ValueError, match=match):
        env.step({"node_0": offer})


def test_bare_offer_needs_a_dict():
    env = contract_envs.vector.make("contract_envs/tree_contracts-v0", num_envs=1, seed=0, instance="T1")
    with pytest.raises(ValueError, match="must be a dict with 'recommendations' and 'transfers'"):
        env.step({"node_0": np.array([[0.1]])})


@pytest.mark.parametrize(
    "offer, match",
    [({"recommendations": np.array([[1.5]]), "transfers": [[0.1]]}, "recommendations must be ints")],
)
def test_invalid_recommendation_dtype_raises(offer, match):
    env = contract_envs.vector.make("contract_envs/tree_contracts-v0", num_envs=1, seed=0, instance="T1")
    with pytest.raises(ValueError, match=match):
        env.step({"node_0": offer})


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="unknown tree instance"):
        contract_envs.make("parallel", "contract_envs/tree_contracts-v0", instance="T3")
    with pytest.raises(ValueError, match="bernoulli"):
        bad = TreeInstance((-1,), (np.array([1.5, 0.2]),))
        contract_envs.make("parallel", "contract_envs/tree_contracts-v0", instance=bad, noise="bernoulli")
    with pytest.raises(ValueError, match="breadth-first"):
        TreeInstance((-1, 2, 0), (np.zeros((2, 2)), np.zeros((2, 2)), np.zeros(2)))
    with pytest.raises(ValueError, match=r"theta\[0\]"):
        TreeInstance((-1, 0), (np.zeros(2), np.zeros(2)))
    env = contract_envs.vector.make("contract_envs/tree_contracts-v0", num_envs=1, seed=0, instance="T1")
    env.step({"node_0": {"recommendations": [[1]], "transfers": [[0.0]]}})
    env.step({"node_1": {"recommendations": [[1]], "transfers": [[0.0]]}})
    with pytest.raises(ValueError, match="node_2: action 5 is out of range"):
        env.step({"node_0": [0], "node_1": [0], "node_2": 5})
