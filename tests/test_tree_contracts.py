"""Tree contract game: battery, exact equilibria (T1, T2, brute force), money, turn order and API checks."""

import pickle
import warnings

import numpy as np
import pytest

import contract_envs
import contract_envs.vector
from contract_envs.adapters.views import AgentsOnlyParallelEnv, PrincipalGymEnv
from contract_envs.contracts import settle_hierarchy
from contract_envs.games.tree_contracts import (
    TreeInstance,
    make_game,
    optimality_margin,
    random_tree_instance,
    tree_instance,
)
from contract_envs.solvers import solve_tree_contracts
from tests.battery import fuzz_env, run_battery

TREE = "contract_envs/tree_contracts-v1"


def mixed_tree() -> TreeInstance:
    """Root with a leaf (K = 2) and an inner node (K = 3) whose child is a leaf (K = 2): children with
    different action counts, and a depth with a leaf before an inner node in breadth-first order."""
    rng = np.random.default_rng(0)
    theta = (rng.uniform(0, 1, (2, 2, 3)).round(2), np.array([0.4, 0.6]), rng.uniform(0, 1, (3, 2)).round(2),
             np.array([0.9, 0.1]))  # fmt: skip
    return TreeInstance((-1, 0, 0, 2), theta, name="mixed")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(instance="T2", noise="bernoulli"),
        dict(instance=1, horizon=20),
        dict(instance="T2", contract_form="vector"),
        dict(instance=mixed_tree(), contract_form="vector", horizon=9),
        dict(instance=mixed_tree(), noise_std=0.0, payment_cap=1.5),
    ],
    ids=["T2-bernoulli", "random1-T20", "T2-vector", "mixed-vector", "mixed-recommendation"],
)
def test_battery(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_battery(TREE, kwargs)
        assert fuzz_env(TREE, kwargs) >= 20


def test_registered():
    assert TREE in contract_envs.env_ids()
    env = contract_envs.make("parallel", TREE, instance="T2")
    assert env.possible_agents == ["node_0", "node_1", "node_2"]
    assert env.machine.stage_names == ("offer@depth0", "act")
    assert contract_envs.make("parallel", TREE).machine.stage_names == ("offer@depth0", "offer@depth1", "act")


def _brute_subtree(inst: TreeInstance, v: int, profiles: np.ndarray, rewards: np.ndarray):
    """Best subtree welfare of v overall and per own action, by enumeration of all joint profiles."""
    members = [v]
    for u in range(v + 1, inst.n_nodes):
        if inst.parents[u] in members:
            members.append(u)
    sub = rewards[:, members].sum(1)
    per_action = np.array([sub[profiles[:, v] == a].max() for a in range(inst.n_actions[v])])
    return sub.max(), per_action


def test_t1_reference_answers():
    inst = tree_instance("T1")
    sol = solve_tree_contracts(inst)
    assert sol.action_profile().tolist() == [0, 1, 1]
    assert sol.welfare == pytest.approx(2.0)
    # transfers: the exact reference values, only for the two edges, and each the child's brute-force outside
    # option gap max W_w - W_w(b*_w) (what makes the child indifferent between complying and its best subtree)
    assert list(sol.transfers) == ["node_1", "node_2"]
    profiles = inst.all_profiles()
    rewards = inst.rewards(profiles)
    for w, want in ((1, 0.2), (2, 0.5)):
        best, per_action = _brute_subtree(inst, w, profiles, rewards)
        assert best - per_action[sol.actions[w]] == pytest.approx(want, abs=1e-12)
        assert sol.transfers[w] == pytest.approx(want, abs=1e-12)
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
    assert solve_tree_contracts("t1").transfers.get(2) == pytest.approx(0.5)
    # a seed is the random instance of that seed (seed 1: 7 nodes, 3 actions each): its optimum is the brute-force one
    inst = tree_instance(1)
    assert inst.n_nodes == 7 and inst.n_actions == (3,) * 7
    profiles = inst.all_profiles()
    welfare = inst.welfare(profiles)
    sol = solve_tree_contracts(1)
    assert sol.welfare == pytest.approx(welfare.max(), abs=1e-12)
    assert sol.action_profile().tolist() == profiles[np.argmax(welfare)].tolist()


def test_generator_rejects_non_unique_optima():
    assert optimality_margin(tree_instance("T1")) == pytest.approx(0.2)
    tied = TreeInstance((-1, 0), (np.array([[0.5, 0.5], [0.1, 0.1]]), np.array([0.3, 0.3])))
    assert optimality_margin(tied) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="unique optimum"):
        random_tree_instance(seed=0, depth=3, branching=3, n_actions=3, margin=0.5, max_tries=3)
    a, b = tree_instance(5), tree_instance(5)
    assert all(np.array_equal(x, y) for x, y in zip(a.theta, b.theta, strict=True))


def _round(env, moves):
    """Play one round on a batched env: every stage with the moves of its movers; returns the act step's outputs."""
    act = len(env.stage_names) - 1
    while True:
        stage = env.stage
        out = env.step({p: moves[p] for p in env.stage_movers[stage]})
        if stage == act:
            return out


def _offer(action, rec, transfers):
    return {"action": action, "recommendations": rec, "transfers": transfers}


def test_equilibrium_contracts_settle_exactly_and_conserve_money():
    env = contract_envs.vector.make(TREE, num_envs=4, seed=0, instance="T1", noise_std=0.0)
    actions = {
        "node_0": _offer(np.zeros(4, int), np.ones((4, 1), int), np.full((4, 1), 0.2)),
        "node_1": _offer(np.ones(4, int), np.ones((4, 1), int), np.full((4, 1), 0.5)),
        "node_2": np.ones(4, int),
    }
    _, rewards, _, _, infos = _round(env, actions)
    for v, u in enumerate([0.7, 0.6, 0.7]):
        assert rewards[f"node_{v}"] == pytest.approx(np.full(4, u))
    assert infos["node_0"]["welfare"] == pytest.approx(np.full(4, 2.0))
    received = sum(infos[p]["payment_received"] for p in env.possible_agents)
    paid = sum(infos[p]["payment_paid"] for p in env.possible_agents)
    assert np.array_equal(received, paid) and received == pytest.approx(np.full(4, 0.7))
    assert [infos[p]["outcome"].tolist() for p in env.possible_agents] == [[0] * 4, [1] * 4, [1] * 4]
    # the child that refuses its recommendation is not paid
    actions["node_2"] = np.array([1, 0, 1, 0])
    _, rewards, _, _, infos = _round(env, actions)
    assert infos["node_2"]["payment_received"] == pytest.approx([0.5, 0, 0.5, 0])
    assert infos["node_1"]["payment_paid"] == pytest.approx([0.5, 0, 0.5, 0])
    assert infos["node_2"]["outcome"].tolist() == [1, 0, 1, 0]


def test_observations_are_bandit_feedback():
    env = contract_envs.vector.make(TREE, num_envs=1, seed=3, instance="T1")
    obs, infos = env.reset(seed=3)
    assert set(obs["node_0"]) == {"stage", "last_reward", "children_actions"}
    assert set(obs["node_2"]) == {"stage", "contract", "last_reward"}
    assert obs["node_0"]["children_actions"].tolist() == [[2]]  # K_w: no round played yet
    assert [infos[p]["acting"].tolist() for p in env.possible_agents] == [[True], [False], [False]]
    obs, *_ = env.step({"node_0": _offer(0, [[1]], [[0.3]])})
    assert obs["node_1"]["contract"].tolist() == [[0.0, pytest.approx(0.3)]]
    assert obs["node_2"]["contract"].tolist() == [[0.0, 0.0]]  # grandchild does not see it
    assert obs["node_0"]["stage"].tolist() == [1]
    env.step({"node_1": _offer(0, [[0]], [[0.0]])})
    obs, rewards, _, _, infos = env.step({"node_0": [1], "node_1": [1], "node_2": [0]})
    assert obs["node_0"]["children_actions"].tolist() == [[1]]
    assert obs["node_1"]["children_actions"].tolist() == [[0]]
    mean = tree_instance("T1").rewards(np.array([[1, 1, 0]]))[0]
    last = np.array([obs[p]["last_reward"][0, 0] for p in env.possible_agents])
    assert np.all(np.abs(last - mean) < 0.6)  # noisy around the mean (sigma 0.1)
    assert infos["node_0"]["own_reward"] == pytest.approx(last[0], abs=1e-6)
    assert np.array_equal(env.state.last_actions, [[1, 1, 0]])
    state = env.global_state()[0]
    assert state.shape == (1 + 3 * 2 + 2 * 3,) and state[0] == 0  # next stage: the first offer stage
    assert state[1:7].tolist() == [0.0] * 6  # offers are cleared after the act stage
    assert state[7:10].tolist() == [1, 1, 0] and state[10:] == pytest.approx(last, abs=1e-6)


def test_batch_matches_single_envs():
    b = 3
    batch = contract_envs.vector.make(TREE, num_envs=b, seed=10, instance="T2")
    singles = [contract_envs.vector.make(TREE, num_envs=1, seed=10 + i, instance="T2") for i in range(b)]
    rng = np.random.default_rng(0)
    for _ in range(5):
        acts = rng.integers(0, 3, (b, 3))
        rec = rng.integers(0, 3, (b, 2))
        tr = rng.uniform(0, 1, (b, 2))
        full = {"node_0": _offer(acts[:, 0], rec, tr), "node_1": acts[:, 1], "node_2": acts[:, 2]}
        _, rb, *_ = _round(batch, full)
        for i, env in enumerate(singles):
            one = {
                "node_0": _offer(acts[i : i + 1, 0], rec[i : i + 1], tr[i : i + 1]),
                "node_1": acts[i : i + 1, 1],
                "node_2": acts[i : i + 1, 2],
            }
            _, r1, *_ = _round(env, one)
            for p in batch.possible_agents:
                assert r1[p][0] == rb[p][i]


@pytest.mark.parametrize(
    "offer, match",
    [
        (_offer(0, [[1]], [[-0.1]]), "node_0: payment to node_1 for outcome 0 is -0.1; allowed range"),
        (_offer(0, [[2]], [[0.1]]), r"recommended action 2 for node_1 is out of range; allowed \[0, 1\]"),
        (_offer(0, [[1]], [[np.nan]]), "node_0: payment to node_1"),
        (_offer(5, [[1]], [[0.1]]), r"node_0: action 5 is out of range; allowed \[0, 1\]"),
        ({"recommendations": [[1]], "transfers": [[0.1]]}, "node_0: .*exactly the keys"),
        ({**_offer(0, [[1]], [[0.1]]), "bonus": 1}, "node_0: .*exactly the keys"),
        ({"action": 0, "transfers": [[0.1]]}, "node_0: .*exactly the keys"),
        (np.array([[0.1]]), "node_0: .*exactly the keys"),
        (_offer(0, np.array([[1.5]]), [[0.1]]), "node_0: recommendations must be ints"),
    ],
)
def test_invalid_offers_raise_and_change_nothing(offer, match):
    env = contract_envs.vector.make(TREE, num_envs=1, seed=0, instance="T1")
    before = env.snapshot()
    with pytest.raises(ValueError, match=match):
        env.step({"node_0": offer})
    assert env.stage == 0 and np.array_equal(env.offers, before.offers) and env.rng.counters == before.rng_counters


def test_act_stage_moves():
    env = contract_envs.vector.make(TREE, num_envs=1, seed=0, instance="T1")
    env.step({"node_0": _offer(0, [[1]], [[0.0]])})
    env.step({"node_1": _offer(0, [[1]], [[0.0]])})
    with pytest.raises(ValueError, match=r"node_2: action 5 is out of range; allowed \[0, 1\]"):
        env.step({"node_0": 0, "node_1": 0, "node_2": 5})
    with pytest.raises(ValueError, match="node_2"):  # a leaf's move is its action, never a dict
        env.step({"node_0": 0, "node_1": 0, "node_2": {"action": 0}})
    with pytest.raises(ValueError, match="node_1: no action given"):
        env.step({"node_0": 0, "node_2": 0})
    with pytest.raises(ValueError, match="node_0: .*exactly the keys"):  # a whole move is checked as a whole
        env.step({"node_0": {"action": 0}, "node_1": 0, "node_2": 0})
    # an inner node's whole move (its offer checked, not counted) or its bare action
    _, _, _, _, infos = env.step({"node_0": _offer(1, [[0]], [[0.9]]), "node_1": 0, "node_2": 1})
    assert [infos[p]["outcome"].tolist() for p in env.possible_agents] == [[1], [0], [1]]
    assert infos["node_1"]["payment_received"].tolist() == [0.0]  # the act stage's offer did not count


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(instance="T3"), "unknown tree instance"),
        (dict(noise_std=float("nan")), "noise_std"),
        (dict(noise_std=-1.0), "noise_std"),
        (dict(horizon=2.5), "horizon"),
        (dict(horizon=0), "horizon"),
        (dict(payment_cap=-1), "payment_cap"),
        (dict(payment_cap=float("nan")), "payment_cap"),
        (dict(contract_form="matrix"), "contract_form"),
        (dict(noise="poisson"), "noise"),
    ],
)
def test_invalid_arguments_raise_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        contract_envs.make("parallel", TREE, **kwargs)


def test_invalid_instances_raise():
    with pytest.raises(ValueError, match="bernoulli"):
        bad = TreeInstance((-1,), (np.array([1.5, 0.2]),))
        contract_envs.make("parallel", TREE, instance=bad, noise="bernoulli")
    with pytest.raises(ValueError, match="breadth-first"):
        TreeInstance((-1, 2, 0), (np.zeros((2, 2)), np.zeros((2, 2)), np.zeros(2)))
    with pytest.raises(ValueError, match=r"theta\[0\]"):
        TreeInstance((-1, 0), (np.zeros(2), np.zeros(2)))
    with pytest.raises(ValueError, match=r"theta\[1\] \(node_1\).*finite real"):
        TreeInstance((-1, 0), (np.zeros((2, 2)), np.array([1j, 0.0])))
    with pytest.raises(ValueError, match=r"theta\[0\] \(node_0\).*finite real"):
        TreeInstance((-1,), (np.array(["a", "b"]),))
    with pytest.raises(ValueError, match=r"theta\[0\] \(node_0\).*NaN"):
        TreeInstance((-1,), (np.array([np.nan, 0.0]),))
    with pytest.raises(ValueError, match=r"parents\[1\]"):
        TreeInstance((-1, 0.5), (np.zeros((2, 2)), np.zeros(2)))
    with pytest.raises(ValueError, match="depth"):
        random_tree_instance(seed=0, depth=1.5)


def test_vector_contract_samples_are_valid_on_children_with_different_action_counts():
    env = contract_envs.make("parallel", TREE, instance=mixed_tree(), contract_form="vector", noise_std=0.0)
    space = env.action_space("node_0")["contracts"]
    assert space.shape == (2, 3)
    assert space.high.tolist() == [[4.0, 4.0, 0.0], [4.0, 4.0, 4.0]]  # node_1 has 2 actions, node_2 has 3
    assert np.all(space.low == 0)
    env.action_space("node_0").seed(0)
    env.action_space("node_2").seed(1)
    env.reset(seed=0)
    for _ in range(60):
        moves = {p: env.action_space(p).sample() for p in env.agents}
        assert moves["node_0"]["contracts"][0, 2] == 0.0
        for movers in env.machine.stage_movers:
            env.step({p: moves[p] for p in movers})  # never rejected
        offer = moves["node_0"]["contracts"].astype(np.float64)
        assert env.machine.ledger.node[0, 1, 1] == pytest.approx(offer[0, moves["node_1"]], rel=1e-6)
    with pytest.raises(ValueError, match=r"node_0: contract to node_1 pays for actions >= 2.*\[0, 0\]"):
        bad = {"action": 0, "contracts": np.array([[0.0, 0.0, 0.1], [0.0, 0.0, 0.0]], np.float32)}
        env.step({p: bad if p == "node_0" else 0 for p in env.agents})


def test_aec_turn_order_and_offer_timing():
    """One turn per node per round in breadth-first order; an offer stage takes effect when the last inner
    node of its depth has moved (here node_2, after the leaf node_1), so node_3 sees node_2's offer."""
    env = contract_envs.make("aec", TREE, instance=mixed_tree(), noise_std=0.0, horizon=2)
    env.reset(seed=0)
    seen = []
    for _ in range(2):
        for p in ("node_0", "node_1", "node_2", "node_3"):
            assert env.agent_selection == p
            seen.append(p)
            if p == "node_0":
                assert env.observe("node_1")["contract"].tolist() == [0.0, 0.0]
                env.step(_offer(0, np.array([1, 2]), np.array([0.25, 0.5], np.float32)))
                assert env.observe("node_1")["contract"].tolist() == [0.0, 0.25]  # depth 0 done: offer in force
                assert env.observe("node_2")["contract"].tolist() == [0.0, 0.0, 0.5]
            elif p == "node_2":
                assert env.observe("node_3")["contract"].tolist() == [0.0, 0.0]
                env.step(_offer(2, np.array([1]), np.array([0.75], np.float32)))
                assert env.observe("node_3")["contract"].tolist() == [0.0, 0.75]
            else:
                env.step(1)
        inst = mixed_tree()
        own = inst.rewards(np.array([[0, 1, 2, 1]]))[0]
        utility = own + np.array([0.0, 0.25, 0.5, 0.75]) - np.array([0.75, 0.0, 0.75, 0.0])
        assert [env.rewards[p] for p in env.possible_agents] == pytest.approx(utility)
        assert [env.infos[p]["outcome"] for p in env.possible_agents] == [0, 1, 2, 1]
    assert all(env.truncations.values())


def test_agents_only_view_works_on_the_tree():
    offers = {
        "node_0": {"recommendations": np.array([1]), "transfers": np.array([0.2], np.float32)},
        "node_1": {"recommendations": np.array([1]), "transfers": np.array([0.5], np.float32)},
    }
    view = AgentsOnlyParallelEnv(
        TREE, principal_policy=lambda node, obs: offers[node], instance="T1", noise_std=0.0, horizon=3
    )
    assert view.possible_agents == ["node_0", "node_1", "node_2"]
    assert view.action_space("node_0").n == 2
    obs, infos = view.reset(seed=0)
    assert obs["node_2"]["contract"] == pytest.approx([0.0, 0.5])  # the offers are made before the nodes act
    assert obs["node_1"]["contract"] == pytest.approx([0.0, 0.2])
    for _ in range(3):
        obs, rewards, terms, truncs, infos = view.step({"node_0": 0, "node_1": 1, "node_2": 1})
        assert [rewards[p] for p in view.possible_agents] == pytest.approx([0.7, 0.6, 0.7], abs=1e-6)
        assert infos["node_0"]["welfare"] == pytest.approx(2.0)
    assert all(truncs.values()) and view.agents == []
    # default: no contracts, the selfish outcome of T1 (1, 0, 0)
    view = pickle.loads(pickle.dumps(AgentsOnlyParallelEnv(TREE, instance="T1", noise_std=0.0)))
    view.reset(seed=0)
    _, rewards, *_ = view.step({"node_0": 1, "node_1": 0, "node_2": 0})
    assert [rewards[p] for p in view.possible_agents] == pytest.approx([0.5, 0.6, 0.7])


def test_root_gym_view_with_plugged_in_nodes():
    def nodes(player, obs):  # node_1 recommends action 1 to node_2 for 0.5; both comply with the offers
        if player == "node_1":
            return _offer(1, np.array([1]), np.array([0.5], np.float32))
        return 1

    env = PrincipalGymEnv(TREE, agent_policy=nodes, instance="T1", noise_std=0.0, horizon=2)
    assert env.player == "node_0"
    env.reset(seed=0)
    _, reward, _, trunc, info = env.step(_offer(0, np.array([1]), np.array([0.2], np.float32)))
    assert reward == pytest.approx(0.7, abs=1e-6) and info["outcome"] == 0 and not trunc
    with pytest.raises(ValueError, match="no reference policy"):
        PrincipalGymEnv(TREE)


def test_render_shows_the_round_and_the_offers():
    env = contract_envs.make("parallel", TREE, instance="T1", noise_std=0.0, render_mode="ansi")
    env.reset(seed=0)
    env.step({"node_0": _offer(0, [1], [0.2]), "node_1": None, "node_2": 0})  # None: no move
    text = env.render()
    assert "tree_contracts[T1]: round 0" in text and "node_1 [0.0, 0.2]" in text and "offer@depth1" in text
    env.step({"node_1": _offer(1, [1], [0.5])})
    env.step({"node_0": 0, "node_1": 1, "node_2": 1})
    assert "round 1 | last actions [0, 1, 1]" in env.render()


def test_game_spaces_and_state():
    game = make_game(instance="T2", noise="bernoulli")
    assert game.n_stages == 2 and game.parents == (-1, 0, 0) and game.node_actions == (3, 3, 3)
    obs_space = game.observation_space("node_0")
    assert set(obs_space.spaces) == {"stage", "last_reward", "children_actions"}
    assert obs_space["children_actions"].nvec.tolist() == [4, 4] and obs_space["last_reward"].high.tolist() == [1]
    assert game.state_space.shape == (1 + 3 * 3 + 2 * 3,)
    assert game.state_space.high[-3:].tolist() == [1, 1, 1] and game.state_space.high[10:13].tolist() == [3, 3, 3]
    with pytest.raises(ValueError, match="unknown player"):
        game.action_space("agent_0")
