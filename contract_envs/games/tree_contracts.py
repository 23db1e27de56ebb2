"""
# Tree Contracts

This environment is part of the *hierarchical* environments of contract-envs: every player is a
principal to its children and an agent of its parent (see [Concepts](../concepts.md)).

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/tree_contracts-v1", instance="T1")` |
| Actions | Leaves Discrete; inner nodes Dict (Discrete own action + its offer to the children) |
| Parallel API | Yes (native AEC via `contract_envs.make("aec", ...)`) |
| Manual Control | No |
| Agents | `agents = ['node_0', 'node_1', ...]` (`node_0` is the root, breadth-first order) |
| Agents | number of tree nodes (T1: 3, T2: 3) |
| Action Shape | leaf `()`; inner node `{"action": (), "recommendations": (n_children,), "transfers": (n_children,)}` |
| Action Values | `action` in `{0..K_v-1}`, `recommendations[j]` in `{0..K_w-1}`, `transfers` in `[0, payment_cap]` |
| Observation Shape | `{"stage": (), "contract": (K_v,), "last_reward": (1,), "children_actions": (n_children,)}` |
| Observation Values | stage `{0..n_stages-1}`, contract `[0, payment_cap]`, children actions `{0..K_w}` |
| State Shape | `(1 + N * K_max + 2 N,)` |
| State Values | `[stage, contracts..., last actions..., last rewards...]` |

A repeated game on a rooted tree (Scheid et al., *Learning Contracts in Hierarchical Multi-Agent
Systems* / *Online Decision-Making in Tree-Like Multi-Agent Games with Transfers*, arXiv
2501.19388). Node `v` has `K_v` actions; its reward each round is
`X_v = theta_v(a_v, a_children(v)) + noise`: it depends on its own action and on its children's
actions only (a leaf's on its own action). Every non-root node is the agent of its parent, every
inner node the principal of its children. Each round:

1. **Offer stages**, top-down, one per depth that has inner nodes: every inner node at that depth
   offers each child a single-step contract: a recommended action and a non-negative transfer,
   paid if and only if the child takes the recommended action. A node sees the contract from its
   parent before it makes its own offers.
2. **Act stage**: all nodes act simultaneously; rewards are drawn; contracts are settled through
   `contract_envs.contracts.settle_hierarchy` (the contract layer's settlement, per edge).

Node utility: `X_v + transfer received - transfers paid`; welfare is the sum of the `X_v`
(transfers cancel exactly; the ledger shows it).

### Steps and turn order
Parallel API (and the batched API, `contract_envs.core.machines.HierarchicalContracts`): one step
per stage, so a round is `n_stages` steps (the offer stages by depth, then the act stage);
`infos[node]["acting"]` says whose move counts in the coming step. Every move given is checked,
counted or not: an inner node's move is one element of its `Dict` action space (its own `action`
and its offer, all keys, no others); the offer counts in the node's offer stage and `action` in the
act stage. In the act stage an inner node may also give its bare action (an int, or `[B]` ints),
as in the agents-only view. Native AEC form: every node has one turn per round, in breadth-first
order (`node_0`, `node_1`, ...), in which its offer and its own action are one move; each offer
stage takes effect when the last inner node of that depth has moved, so every node sees its
parent's offer at its turn; the act stage is played after the last node's turn. `max_cycles` counts
Parallel steps or AEC rounds.

### Observation Space (bandit feedback)
A `Dict` per node: `stage` (index of the coming stage, `Discrete(n_stages)`); `contract` (not for
the root): the current round's offer from the parent, a payment per own action (`Box(K_v)`, one
positive entry at most with recommendation contracts: the recommended action; all zeros before the
parent's offer stage or without a contract); `last_reward`: own reward `X_v` of the previous round
(0 before the first); `children_actions` (inner nodes only): the children's actions of the previous
round (`MultiDiscrete([K_w + 1])`, value `K_w` = no round played yet). A node sees neither `theta`
nor its grandchildren, nor other nodes' contracts.

### Realised outcomes
A contract is settled on the child's own action, so a node's outcome is its action: the act step
reports every node's action in `infos[node]["outcome"]` (`-1` in the offer steps). A parent also
observes its children's actions, in `children_actions` of its next observation; `infos` show each
node its own outcome only.

### Action Space
Leaves: `Discrete(K_v)`. Inner nodes: `Dict(action=Discrete(K_v),
recommendations=MultiDiscrete([K_w for each child w]), transfers=Box(0, payment_cap, (n_children,),
float32))`: entry `j` of `recommendations` / `transfers` is the contract to the `j`-th child
(increasing node index): transfer `transfers[j]` is paid if and only if that child takes action
`recommendations[j]`; a zero transfer is "no contract". With `contract_form="vector"` (an
extension) the offer is an incentive vector per child instead: `contracts=Box(0, high, (n_children,
K_c), float32)` (`K_c` the largest child action count), entry `[j, b]` paid if child `j` takes `b`;
`high[j, b]` is `payment_cap` for the actions child `j` has and 0 for those it lacks, so every
sampled offer is valid. Internally both are the contract layer's payment-per-outcome rows (outcome =
the child's action). Invalid moves (negative, above the cap, NaN, out-of-range recommendation,
payments for actions the child lacks, missing or unknown keys) raise `ValueError` naming the node
(and the child) and the allowed range, at the step (AEC: the turn) that made them, and change nothing.

### Rewards
Per step, each node's utility (0 in offer stages). `infos[node]` carries the ledger
(`contract_envs.contracts.HierarchyLedger`): `own_reward`, `payment_received`, `payment_paid`,
`utility`, `welfare` and their running `episode_*` totals.

### Instances
`tree_instance(name_or_seed)`: `"T1"` (chain root -> c -> g, K = 2; optimum (0, 1, 1), W* = 2.0,
transfers 0.2 to c and 0.5 to g, welfare 1.8 without transfers), `"T2"` (star with two leaves,
K = 3; optimum (0, 1, 2), W* = 2.0, transfers 0.4 and 0.2, welfare 1.9 without transfers), or an
int seed for `random_tree_instance(seed)`: a complete tree of depth `d in {1, 2, 3}` and branching
`b in {1, 2, 3}` with `K in {2, 3}` actions per node (each drawn from the seed unless given),
`theta ~ U[0, 1]` rounded to 0.05, redrawn until the welfare-optimal profile beats every other
profile by at least `margin = 0.05`. Any `TreeInstance(parents, theta)` (finite real tables).
Exact equilibria: `contract_envs.solvers.solve_tree_contracts`. Decentralised no-regret learners
(MAIL-style) and a no-contract baseline, with social-welfare regret, per-node regret and transfer
error: `baselines/tree_contracts_learning.py`.

### Batched API, role views and other stacks
`contract_envs.vector.make("contract_envs/tree_contracts-v1", num_envs, seed=..., instance=...)`
returns the generic `HierarchicalContracts` stage machine (dicts of arrays keyed by node; env `b`
of a batch seeded `s` plays like a single env seeded `s + b`); its public `stage`, `stage_names`,
`stage_movers`, `offers` (each node's current offer from its parent, `[B, N, K_max]`), `state`
(`TreeContractsState`) and `observe()` are what learners read. `AgentsOnlyParallelEnv(
"contract_envs/tree_contracts-v1", principal_policy=...)`: every node acts once a round (its own
action, an int) while a plugged-in policy `(node, observation) -> offer` (default: no contracts)
makes the offers. `PrincipalGymEnv(..., agent_policy=...)`: one node's problem (default the root);
the game has no reference policy, so `agent_policy` must be given. Nodes have different spaces, so
TorchRL/BenchMARL's `PettingZooWrapper` needs `group_map=MarlGroupMapType.ONE_GROUP_PER_AGENT`.

### Arguments
```python
contract_envs.make("parallel", "contract_envs/tree_contracts-v1",
                   instance="T1", noise="gaussian", noise_std=0.1, horizon=100, payment_cap=None,
                   contract_form="recommendation", max_cycles=None, render_mode=None)
```
`instance`: `"T1"`, `"T2"`, an int seed, or a `TreeInstance`; `noise`: `"gaussian"`
(`N(0, noise_std^2)`, `noise_std` finite and >= 0) or `"bernoulli"` (`X_v ~ Bernoulli(theta_v)`,
needs theta in [0, 1]); `horizon`: rounds per episode (an integer >= 1, or `None`: never
truncated), the one episode-length argument of the game; `payment_cap`: largest transfer per edge
(finite, > 0; default: the number of nodes, an upper bound on any useful transfer since theta is in
[0, 1]); `contract_form`: `"recommendation"` or `"vector"`. `max_cycles` (adapters only): Parallel
steps, or AEC rounds, before truncation (default `None`: `horizon` ends episodes). NaN, inf, a
non-integral `horizon` or a non-positive `payment_cap` raise `ValueError` naming the argument.

Deviations from the source: the paper's exact protocol is not public (no code); the per-round
utility `X_v + received - paid`, the top-down order of offers and the observation set follow the
reference's reading (`hierarchical.md` §1-2, tagged hypothesis there). `contract_form="vector"` is
an extension.

### Version History
* v1: the game on the `HierarchicalGame` protocol (`TreeContractGame` with an explicit
  `TreeContractsState`: last actions, last rewards, round); `VectorTreeContractEnv` and the module's
  own `parallel_env`/`env` are removed: the generic `HierarchicalContracts` stage machine (batched
  API) and adapters run it. Same dynamics: a seed and the same moves give the same trajectories as
  v0. Changes: id `tree_contracts-v1`; the AEC form is native (one turn per node per round in
  breadth-first order, offer and own action in one move; v0 converted the Parallel env and asked
  every node in every stage), and its `max_cycles` counts rounds; an inner node's move is checked as
  a whole in every stage (v0 read only the part that counted: a dict must now hold `action` and the
  offer, or be a bare action in the act stage); with `contract_form="vector"` the `contracts` Box has
  per-entry bounds (high 0 for actions a child lacks), so `action_space(node).sample()` is valid on
  trees whose children have different action counts (v0 rejected almost every sample there);
  `AgentsOnlyParallelEnv` works on the tree (v0 raised); the batched API's `stage_index`,
  `contracts`, `acting_nodes()`, `game.stages`, `game.observation(...)` and `game.last_actions` are
  now the machine's `stage`, `offers`, `stage_movers`, `stage_names`, `observe()` and
  `state.last_actions`; `infos` add the realised `outcome`; every
  constructor argument is validated (NaN, inf, non-integral `horizon`, `payment_cap <= 0`, complex or
  non-numeric `theta`/`parents` raise `ValueError`); the game takes no `seed` (seeds go to `reset` and
  `contract_envs.vector.make`); the ansi render also shows the offers on the table; Parallel
  `max_cycles` defaults to `None` (v0: `n_stages * horizon`, the same episode length).
* v0: Initial release.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from gymnasium import spaces

import contract_envs.games._draw as _draw
from contract_envs.checks import check_choice, check_int, check_optional_int, check_real, real_array
from contract_envs.core.game import GameState, HierarchicalGame, Transition
from contract_envs.rng import BatchedStreams

# the exact reference of this game, for its documentation page (where the optimum is and how to compute it)
EXACT_OPTIMUM = (
    "Yes: `solve_tree_contracts(instance)` (equilibrium profile, transfers and welfare W*: 2.0 on T1 and T2; "
    "the no-transfer outcome)"
)

_TIE = 1e-9
NOISES = ("gaussian", "bernoulli")
CONTRACT_FORMS = ("recommendation", "vector")


def node_id(i: int) -> str:
    return f"node_{i}"


class NodeValues(dict):
    """``dict`` node id -> value that also accepts the node index (``values[1] == values["node_1"]``)."""

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            key = node_id(int(key))
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        if isinstance(key, (int, np.integer)):
            key = node_id(int(key))
        return super().__contains__(key)

    def get(self, key, default=None):
        return self[key] if key in self else default


# --------------------------------------------------------------------------- instances
@dataclass(frozen=True, eq=False)
class TreeInstance:
    """A tree contract game, validated on construction.

    Attributes:
        parents: parent index of every node, ``-1`` for the root ``0``; nodes in breadth-first order
            (every parent has a smaller index than its children).
        theta: per node ``v``, the mean-reward table of shape ``(K_v, K_c1, ..., K_cm)`` over its own
            action and its children's actions (children in increasing index order).
        name: label used in renders and results.
    """

    parents: tuple[int, ...]
    theta: tuple[np.ndarray, ...]
    name: str = "custom"
    children: tuple[tuple[int, ...], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        owner = "TreeInstance"
        if isinstance(self.parents, (str, bytes)) or not hasattr(self.parents, "__len__"):
            raise ValueError(f"{owner}: parents must be a sequence of ints (-1 for the root), got {self.parents!r}")
        parents = tuple(check_int(f"parents[{v}]", p, -1, owner=owner) for v, p in enumerate(self.parents))
        n = len(parents)
        if n < 1 or parents[0] != -1:
            raise ValueError(f"{owner}: parents: node 0 must be the root (parent -1); got {list(parents)}")
        for v, p in enumerate(parents[1:], start=1):
            if not (0 <= p < v):
                raise ValueError(
                    f"{owner}: parents[{v}] = {p}: nodes must be in breadth-first order (0 <= parent < {v})"
                )
        if isinstance(self.theta, (str, bytes, np.ndarray)) or not hasattr(self.theta, "__len__"):
            raise ValueError(f"{owner}: theta must be a sequence of one table per node, got {type(self.theta)}")
        if len(self.theta) != n:
            raise ValueError(f"{owner}: theta: expected one table per node ({n}), got {len(self.theta)}")
        children = tuple(tuple(w for w in range(n) if parents[w] == v) for v in range(n))
        tables = tuple(real_array(f"theta[{v}] ({node_id(v)})", t, owner=owner) for v, t in enumerate(self.theta))
        n_actions = [t.shape[0] if t.ndim else 0 for t in tables]
        for v, t in enumerate(tables):
            want = (n_actions[v], *(n_actions[w] for w in children[v]))
            if t.ndim != 1 + len(children[v]) or t.shape != want or n_actions[v] < 1:
                raise ValueError(
                    f"{owner}: theta[{v}] ({node_id(v)}): shape {t.shape}; expected (K_v, K_children...) = {want} "
                    f"with children {list(children[v])}"
                )
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "theta", tables)
        object.__setattr__(self, "children", children)

    @property
    def n_nodes(self) -> int:
        return len(self.parents)

    @cached_property
    def n_actions(self) -> tuple[int, ...]:
        return tuple(t.shape[0] for t in self.theta)

    @cached_property
    def depth(self) -> tuple[int, ...]:
        """Distance of every node from the root."""
        d = [0] * self.n_nodes
        for v in range(1, self.n_nodes):
            d[v] = d[self.parents[v]] + 1
        return tuple(d)

    @cached_property
    def height(self) -> tuple[int, ...]:
        """Length of the longest path from every node down to a leaf (leaves: 0)."""
        h = [0] * self.n_nodes
        for v in reversed(range(self.n_nodes)):
            if self.children[v]:
                h[v] = 1 + max(h[w] for w in self.children[v])
        return tuple(h)

    @cached_property
    def subtree_size(self) -> tuple[int, ...]:
        s = [1] * self.n_nodes
        for v in reversed(range(1, self.n_nodes)):
            s[self.parents[v]] += s[v]
        return tuple(s)

    def is_leaf(self, v: int) -> bool:
        return not self.children[v]

    def rewards(self, actions: np.ndarray) -> np.ndarray:
        """Mean rewards ``[M, N]`` of joint action profiles ``actions [M, N]``."""
        actions = np.asarray(actions, dtype=np.int64)
        out = np.empty(actions.shape, dtype=np.float64)
        for v in range(self.n_nodes):
            idx = (actions[:, v], *(actions[:, w] for w in self.children[v]))
            out[:, v] = self.theta[v][idx]
        return out

    def welfare(self, actions: np.ndarray) -> np.ndarray:
        """Mean welfare ``[M]`` (sum of mean rewards) of joint action profiles ``actions [M, N]``."""
        return self.rewards(actions).sum(axis=1)

    def all_profiles(self) -> np.ndarray:
        """Every joint action profile ``[prod K_v, N]`` (for brute force on small trees)."""
        return np.array(list(itertools.product(*(range(k) for k in self.n_actions))), dtype=np.int64)


def subtree_totals(instance: TreeInstance, v: int, subtree_welfare: list[np.ndarray]) -> np.ndarray:
    """``theta_v(a, b) + sum_w W_w(b_w)`` over ``(own action, children's actions)``, shape of ``theta_v``."""
    total = instance.theta[v].copy()
    for j, w in enumerate(instance.children[v]):
        shape = [1] * total.ndim
        shape[j + 1] = -1
        total = total + subtree_welfare[w].reshape(shape)
    return total


def optimality_margin(instance: TreeInstance) -> float:
    """Welfare gap between the best joint profile and the best *different* one (``inf`` if unique profile).

    Dynamic programme keeping the two best subtree values per (node, own action): the runner-up of
    a subtree either picks another children profile or changes one child's subtree to its runner-up.
    """
    n = instance.n_nodes
    top1: list[np.ndarray] = [np.empty(0)] * n
    top2: list[np.ndarray] = [np.empty(0)] * n
    for v in reversed(range(n)):
        total = subtree_totals(instance, v, top1)
        k_v = instance.n_actions[v]
        flat = total.reshape(k_v, -1)
        order = np.sort(flat, axis=1)
        best = order[:, -1]
        second_profile = order[:, -2] if flat.shape[1] > 1 else np.full(k_v, -np.inf)
        best_b = np.argmax(flat, axis=1)
        change_child = np.full(k_v, -np.inf)
        if instance.children[v]:
            profiles = np.unravel_index(best_b, total.shape[1:])
            for j, w in enumerate(instance.children[v]):
                gap = top1[w][profiles[j]] - top2[w][profiles[j]]
                change_child = np.maximum(change_child, best - gap)
        top1[v], top2[v] = best, np.maximum(second_profile, change_child)
    root_order = np.sort(top1[0])
    w_star = root_order[-1]
    runner_up = max(root_order[-2] if len(root_order) > 1 else -np.inf, float(top2[0][np.argmax(top1[0])]))
    return float(w_star - runner_up)


def _instance_t1() -> TreeInstance:
    theta_g = [0.7, 0.2]
    theta_c = [[0.6, 0.5], [0.1, 0.9]]
    theta_r = [[0.2, 0.9], [0.5, 0.1]]
    return TreeInstance((-1, 0, 1), (np.array(theta_r), np.array(theta_c), np.array(theta_g)), name="T1")


def _instance_t2() -> TreeInstance:
    theta_r = np.array(
        [
            [[0.1, 0.2, 0.3], [0.2, 0.4, 0.9], [0.0, 0.1, 0.2]],
            [[0.5, 0.1, 0.1], [0.3, 0.2, 0.1], [0.9, 0.3, 1.0]],
            [[0.2, 0.15, 0.2], [0.6, 0.6, 0.4], [0.1, 0.1, 0.1]],
        ]
    )
    return TreeInstance((-1, 0, 0), (theta_r, np.array([0.9, 0.5, 0.1]), np.array([0.3, 0.8, 0.6])), name="T2")


NAMED_INSTANCES = {"T1": _instance_t1, "T2": _instance_t2}


def random_tree_instance(
    seed: int = 0,
    depth: int | None = None,
    branching: int | None = None,
    n_actions: int | None = None,
    margin: float = 0.05,
    max_tries: int = 20_000,
) -> TreeInstance:
    """A complete random tree (see the module docstring); parameters left ``None`` are drawn from the seed
    (depth in {1, 2, 3}, branching in {1, 2, 3}, actions in {2, 3}). Raises if no draw of ``theta``
    within ``max_tries`` has a unique optimum by ``margin``."""
    owner = "random_tree_instance"
    seed = check_int("seed", seed, 0, owner=owner)
    depth = check_optional_int("depth", depth, 0, owner=owner)
    branching = check_optional_int("branching", branching, 1, owner=owner)
    n_actions = check_optional_int("n_actions", n_actions, 1, owner=owner)
    margin = check_real("margin", margin, 0.0, owner=owner)
    max_tries = check_int("max_tries", max_tries, 1, owner=owner)
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4)) if depth is None else depth
    branching = int(rng.integers(1, 4)) if branching is None else branching
    n_actions = int(rng.integers(2, 4)) if n_actions is None else n_actions
    parents = [-1]
    frontier = [0]
    for _ in range(depth):
        nxt = []
        for v in frontier:
            for _ in range(branching):
                parents.append(v)
                nxt.append(len(parents) - 1)
        frontier = nxt
    n = len(parents)
    n_children = [sum(1 for p in parents if p == v) for v in range(n)]
    for _ in range(max_tries):
        theta = tuple(rng.integers(0, 21, size=(n_actions,) * (1 + n_children[v])) / 20.0 for v in range(n))
        inst = TreeInstance(tuple(parents), theta, name=f"random(seed={seed}, d={depth}, b={branching}, K={n_actions})")
        if optimality_margin(inst) >= margin - _TIE:
            return inst
    raise ValueError(
        f"no random tree with a unique optimum by margin {margin} in {max_tries} draws "
        f"(depth {depth}, branching {branching}, K {n_actions}); lower margin or the tree size"
    )


def tree_instance(name_or_seed: str | int | TreeInstance = "T1") -> TreeInstance:
    """``"T1"``, ``"T2"`` (reference instances), an int seed (``random_tree_instance(seed)``) or an instance."""
    if isinstance(name_or_seed, TreeInstance):
        return name_or_seed
    if isinstance(name_or_seed, (int, np.integer)) and not isinstance(name_or_seed, bool):
        return random_tree_instance(seed=int(name_or_seed))
    if isinstance(name_or_seed, str) and name_or_seed.upper() in NAMED_INSTANCES:
        return NAMED_INSTANCES[name_or_seed.upper()]()
    raise ValueError(f"unknown tree instance {name_or_seed!r}; use 'T1', 'T2', an int seed or a TreeInstance")


# --------------------------------------------------------------------------- the game
@dataclass
class TreeContractsState(GameState):
    """State of a batch: every node's action and own reward in the previous round (the nodes' bandit
    feedback; actions ``K_v`` and rewards 0 before the first round), and ``t``."""

    last_actions: np.ndarray  # [B, N] int64
    last_rewards: np.ndarray  # [B, N] float64
    last_offers: np.ndarray | None = None  # [B, N, K_max]: each node's offer from its parent last round (renders)


class TreeContractGame(HierarchicalGame):
    """Batched rules of the tree contract game (see the module docstring): a :class:`TreeInstance`, the
    noise model and the nodes' spaces; the stage machine is the generic
    :class:`~contract_envs.core.machines.HierarchicalContracts`."""

    name = "tree_contracts"
    render_modes = ("ansi", "human", "rgb_array")

    def __init__(
        self,
        instance: TreeInstance,
        num_envs: int = 1,
        noise: str = "gaussian",
        noise_std: float = 0.1,
        horizon: int | None = 100,
        payment_cap: float | None = None,
        contract_form: str = "recommendation",
    ) -> None:
        if not isinstance(instance, TreeInstance):
            raise ValueError(f"{self.name}: instance must be a TreeInstance, got {type(instance).__name__}")
        self.noise = check_choice("noise", noise, NOISES, owner=self.name)
        self.noise_std = check_real("noise_std", noise_std, 0.0, owner=self.name)
        if noise == "bernoulli" and any((t.min() < 0 or t.max() > 1) for t in instance.theta):
            raise ValueError(f"{self.name}: noise='bernoulli' needs every theta in [0, 1] (reward ~ Bernoulli(theta))")
        self.contract_form = check_choice("contract_form", contract_form, CONTRACT_FORMS, owner=self.name)
        cap = instance.n_nodes if payment_cap is None else payment_cap
        self.payment_cap = check_real("payment_cap", cap, 0.0, low_open=True, owner=self.name)
        self.instance = instance
        self.n_nodes = n = instance.n_nodes
        self.k_max = max(instance.n_actions)
        super().__init__(num_envs, n, self.k_max, None, horizon)
        self.agents = [node_id(v) for v in range(n)]
        self.players = list(self.agents)
        self.parents = instance.parents
        self.node_actions = instance.n_actions
        self.children = instance.children
        self.inner = [v for v in range(n) if instance.children[v]]
        self.n_stages = len({instance.depth[v] for v in self.inner}) + 1
        self.none_action = np.asarray(instance.n_actions, dtype=np.int64)
        self._build_spaces()

    # ------------------------------------------------------------------ spaces
    def _build_spaces(self) -> None:
        inst, cap = self.instance, self.payment_cap
        bernoulli = self.noise == "bernoulli"
        reward_box = (
            spaces.Box(0.0, 1.0, (1,), np.float32) if bernoulli else spaces.Box(-np.inf, np.inf, (1,), np.float32)
        )
        self._observation_spaces: dict[str, spaces.Dict] = {}
        self._action_spaces: dict[str, spaces.Space] = {}
        for v, p in enumerate(self.players):
            obs: dict[str, spaces.Space] = {"stage": spaces.Discrete(self.n_stages)}
            if v > 0:
                obs["contract"] = spaces.Box(0.0, cap, (inst.n_actions[v],), np.float32)
            obs["last_reward"] = reward_box
            kids = inst.children[v]
            if kids:
                obs["children_actions"] = spaces.MultiDiscrete([inst.n_actions[w] + 1 for w in kids])
                if self.contract_form == "recommendation":
                    offer = {
                        "recommendations": spaces.MultiDiscrete([inst.n_actions[w] for w in kids]),
                        "transfers": spaces.Box(0.0, cap, (len(kids),), np.float32),
                    }
                else:  # per-entry bounds: no payment for an action the child does not have
                    k_c = max(inst.n_actions[w] for w in kids)
                    high = np.zeros((len(kids), k_c), dtype=np.float32)
                    for j, w in enumerate(kids):
                        high[j, : inst.n_actions[w]] = cap
                    offer = {"contracts": spaces.Box(np.zeros_like(high), high, dtype=np.float32)}
                self._action_spaces[p] = spaces.Dict({"action": spaces.Discrete(inst.n_actions[v]), **offer})
            else:
                self._action_spaces[p] = spaces.Discrete(inst.n_actions[v])
            self._observation_spaces[p] = spaces.Dict(obs)
        n, flat = self.n_nodes, self.n_nodes * self.k_max
        rew_low, rew_high = (0.0, 1.0) if bernoulli else (-np.inf, np.inf)
        low = np.concatenate([[0], np.zeros(flat), np.zeros(n), np.full(n, rew_low)])
        high = np.concatenate([[self.n_stages - 1], np.full(flat, cap), self.none_action, np.full(n, rew_high)])
        self.state_space = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)

    def action_space(self, player: str) -> spaces.Space:
        self._check_player(player)
        return copy.deepcopy(self._action_spaces[player])

    def observation_space(self, player: str) -> spaces.Space:
        self._check_player(player)
        return copy.deepcopy(self._observation_spaces[player])

    # ------------------------------------------------------------------ rules
    def init_state(self) -> TreeContractsState:
        b = self.num_envs
        return TreeContractsState(
            t=np.zeros(b, dtype=np.int64),
            last_actions=np.tile(self.none_action, (b, 1)),
            last_rewards=np.zeros((b, self.n_nodes)),
            last_offers=np.zeros((b, self.n_nodes, self.k_max)),
        )

    def reset(self, state: TreeContractsState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        state.last_actions[env_idx] = self.none_action
        state.last_rewards[env_idx] = 0.0

    def mean_rewards(self, actions: np.ndarray) -> np.ndarray:
        """Mean rewards ``[B, N]`` of joint actions ``[B, N]``."""
        return self.instance.rewards(actions)

    def step(
        self, state: TreeContractsState, actions: np.ndarray, principal_action: np.ndarray | None, rng: BatchedStreams
    ) -> Transition:
        """Draw every node's reward for validated joint actions ``[B, N]`` (outcome = own action)."""
        mean = self.mean_rewards(actions)
        if self.noise == "gaussian":
            own = mean + self.noise_std * rng.normal(self.n_nodes)
        else:
            own = (rng.uniform(self.n_nodes) < mean).astype(np.float64)
        state.last_actions, state.last_rewards = actions.copy(), own
        if principal_action is not None:  # the settled offers [B, N, K_max] (the stage machine's)
            state.last_offers = principal_action
        done = np.zeros(self.num_envs, dtype=bool)
        return Transition(own, np.zeros(self.num_envs), actions.copy(), done)

    # ------------------------------------------------------------------ views
    def observe_nodes(self, state: TreeContractsState, stage: int, contracts: np.ndarray) -> dict[str, Any]:
        """Every node's observation batch; ``contracts [B, N, K_max]`` holds each node's current offer."""
        inst, b = self.instance, self.num_envs
        stage_arr = np.full(b, stage, dtype=np.int64)
        out = {}
        for v, p in enumerate(self.players):
            obs = {"stage": stage_arr.copy()}
            if v > 0:
                obs["contract"] = contracts[:, v, : inst.n_actions[v]].astype(np.float32)
            obs["last_reward"] = state.last_rewards[:, v : v + 1].astype(np.float32)
            if inst.children[v]:
                obs["children_actions"] = state.last_actions[:, list(inst.children[v])].copy()
            out[p] = obs
        return out

    def global_state(self, state: TreeContractsState, offers: np.ndarray | None, stage: int = 0) -> np.ndarray:
        """``[stage, offers (N * K_max), last actions (N), last rewards (N)]`` float32 per env."""
        b = self.num_envs
        if offers is None:
            offers = np.zeros((b, self.n_nodes, self.k_max))
        parts = [np.full((b, 1), stage), offers.reshape(b, -1), state.last_actions, state.last_rewards]
        return np.concatenate(parts, axis=1).astype(np.float32)

    def render_ansi(self, state: TreeContractsState, env_index: int, offers: np.ndarray | None = None) -> str:
        b = env_index
        text = f"tree_contracts[{self.instance.name}]: round {int(state.t[b])}"
        if np.any(state.last_actions[b] < self.none_action):
            rewards = np.round(state.last_rewards[b], 3).tolist()
            text += f" | last actions {state.last_actions[b].tolist()} rewards {rewards}"
        if offers is not None and np.any(offers[b] > 0):
            shown = [
                f"{node_id(v)} {np.round(offers[b, v, : self.instance.n_actions[v]], 3).tolist()}"
                for v in range(1, self.n_nodes)
                if np.any(offers[b, v] > 0)
            ]
            text += f" | offers {', '.join(shown)}"
        return text

    def render_rgb(self, state: TreeContractsState, env_index: int, offers: np.ndarray | None = None) -> np.ndarray:
        """RGB frame uint8: the tree (root on top); each node with its last action and reward; each edge with
        the parent's offer to the child (on the table in the round in play, else last round's) and, after a
        round, the transfer paid when the child took the recommended action (green) or not (grey)."""
        b, inst, n = env_index, self.instance, self.n_nodes
        depth = np.asarray(inst.depth)
        leaves = [v for v in range(n) if not self.children[v]]
        order = sorted(range(n), key=lambda v: (depth[v], v))
        x = np.zeros(n)
        rank = {v: i for i, v in enumerate(sorted(leaves, key=lambda v: self._leaf_key(v)))}
        for v in leaves:
            x[v] = (rank[v] + 0.5) / len(leaves)
        for v in reversed(order):
            if self.children[v]:
                x[v] = np.mean([x[w] for w in self.children[v]])
        width, left = max(480, 70 * len(leaves) + 40), 20
        radius = 16 if len(leaves) <= 8 else 9
        level_h = 92 if radius > 9 else 70
        top = 62
        height = top + level_h * int(depth.max()) + 2 * radius + 40
        canvas = _draw.Canvas(height, width)
        played = bool(state.t[b] > 0) and np.any(state.last_actions[b] < self.none_action)
        on_table = offers is not None and np.any(offers[b] > 0)
        canvas.text(4, 12, f"Tree contracts [{inst.name}]  round {int(state.t[b])}/{self.horizon}", bold=True)
        if on_table:
            status = "offers on the table (amber: recommended action, transfer)"
        elif played:
            status = "last round: offers; green = transfer paid (recommendation taken)"
        else:
            status = "parents offer their children contracts next, top-down"
        canvas.text(20, 12, status, _draw.MUTED)
        pos = {v: (top + level_h * depth[v], left + (width - 2 * left) * x[v]) for v in range(n)}
        shown = offers[b] if on_table else (state.last_offers[b] if played else None)
        for w in range(1, n):
            (y0, x0), (y1, x1) = pos[self.parents[w]], pos[w]
            k_w = self.node_actions[w]
            contract = None if shown is None else shown[w, :k_w]
            paid = None
            if played and not on_table:
                paid = float(state.last_offers[b, w, int(state.last_actions[b, w])])
            colour = _draw.MONEY if paid else _draw.FAINT
            canvas.line(y0 + radius, x0, y1 - radius, x1, colour, 3 if paid else 2)
            my, mx = (y0 + y1) / 2, (x0 + x1) / 2
            side, align = (-8, "right") if x1 < x0 - 1 else (8, "left")
            if contract is not None and np.any(contract > 0):
                if np.count_nonzero(contract) == 1:
                    a = int(np.flatnonzero(contract)[0])
                    label = f"a={a}: {_draw.fmt(float(contract[a]))}"
                else:
                    label = "[" + " ".join(_draw.fmt(float(c)) for c in contract) + "]"
                canvas.text(my - 14, mx + side, label, _draw.OFFER, align=align)
            if paid is not None:
                colour = _draw.MONEY if paid else _draw.MUTED
                canvas.text(my + 1, mx + side, f"paid {_draw.fmt(paid)}", colour, align=align)
        for v in range(n):
            cy, cx = pos[v]
            canvas.disc(cy, cx, radius, _draw.PRINCIPAL_COLOUR if self.children[v] else _draw.colour_of(0))
            canvas.text(cy - 6, cx, str(v), (255, 255, 255), bold=True, align="center")
            if played:
                a, r = int(state.last_actions[b, v]), float(state.last_rewards[b, v])
                canvas.text(cy - 6, cx + radius + 4, f"a={a} X={_draw.fmt(r)}", _draw.INK)
        return canvas.pixels

    def _leaf_key(self, v: int) -> tuple[int, ...]:
        """Left-to-right order of a leaf: its path of child ranks from the root."""
        path = []
        while self.parents[v] >= 0:
            p = self.parents[v]
            path.append(self.children[p].index(v))
            v = p
        return tuple(reversed(path))


def make_game(
    num_envs: int = 1,
    instance: str | int | TreeInstance = "T1",
    noise: str = "gaussian",
    noise_std: float = 0.1,
    horizon: int | None = 100,
    payment_cap: float | None = None,
    contract_form: str = "recommendation",
) -> TreeContractGame:
    """The game for ``num_envs`` environments (the registry's entry; arguments in the module docstring)."""
    return TreeContractGame(
        tree_instance(instance),
        num_envs=num_envs,
        noise=noise,
        noise_std=noise_std,
        horizon=horizon,
        payment_cap=payment_cap,
        contract_form=contract_form,
    )


__all__ = [
    "CONTRACT_FORMS",
    "NAMED_INSTANCES",
    "NodeValues",
    "TreeContractGame",
    "TreeContractsState",
    "TreeInstance",
    "make_game",
    "node_id",
    "optimality_margin",
    "random_tree_instance",
    "subtree_totals",
    "tree_instance",
]
