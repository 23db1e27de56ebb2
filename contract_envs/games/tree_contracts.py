"""
# Tree Contracts

This environment is part of the *hierarchical* environments of contract-envs: every player is a
principal to its children and an agent of its parent.

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/tree_contracts-v0", instance="T1")` |
| Actions | Leaves Discrete; inner nodes Dict (Discrete own action + Box contracts to the children) |
| Parallel API | Yes (AEC via `contract_envs.make("aec", ...)`) |
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

### Observation Space (bandit feedback)
A `Dict` per node: `stage` (index of the coming stage, `Discrete(n_stages)`); `contract` (not for
the root): the current round's offer from the parent, a payment per own action (`Box(K_v)`, one
positive entry at most: the recommended action; all zeros before the parent's offer stage or
without a contract); `last_reward`: own reward `X_v` of the previous round (0 before the first);
`children_actions` (inner nodes only): the children's actions of the previous round
(`MultiDiscrete([K_w + 1])`, value `K_w` = no round played yet). A node sees neither `theta` nor
its grandchildren, nor other nodes' contracts.

### Action Space
Leaves: `Discrete(K_v)`. Inner nodes: `Dict(action=Discrete(K_v),
recommendations=MultiDiscrete([K_w for each child w]), transfers=Box(0, payment_cap, (n_children,),
float32))`: entry `j` of `recommendations` / `transfers` is the contract to the `j`-th child
(increasing node index): transfer `transfers[j]` is paid if and only if that child takes action
`recommendations[j]`; a zero transfer is "no contract". With `contract_form="vector"` (an
extension) the offer is an incentive vector per child instead: `contracts=Box(0, payment_cap,
(n_children, K_c), float32)` (`K_c` the largest child action count), entry `[j, b]` paid if child
`j` takes `b`. Internally both are the contract layer's payment-per-outcome rows (outcome = the
child's action). Only the part that counts in the current stage is read and validated: the offer
in the node's offer stage, `action` in the act stage (`infos[node]["acting"]` says whether a node's
action counts in the coming step). Invalid offers (negative, above the cap, NaN, out-of-range
recommendation, payments for actions the child lacks) raise `ValueError` naming the node and the child.

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
profile by at least `margin = 0.05`. Exact equilibria: `contract_envs.solvers.solve_tree_contracts`.
Decentralised no-regret learners (MAIL-style) and a no-contract baseline, with social-welfare
regret, per-node regret and transfer error: `baselines/tree_contracts_learning.py`.

### Batched API and other stacks
`contract_envs.vector.make("contract_envs/tree_contracts-v0", num_envs, seed=..., instance=...)`
returns a `VectorTreeContractEnv` (dicts of arrays keyed by node; env `b` of a batch seeded `s`
plays like a single env seeded `s + b`). Nodes have different spaces, so TorchRL/BenchMARL's
`PettingZooWrapper` needs `group_map=MarlGroupMapType.ONE_GROUP_PER_AGENT`.

### Arguments
```python
contract_envs.make("parallel", "contract_envs/tree_contracts-v0",
                   instance="T1", noise="gaussian", noise_std=0.1, horizon=100, payment_cap=None,
                   contract_form="recommendation", max_cycles=None, render_mode=None)
```
`instance`: `"T1"`, `"T2"`, an int seed, or a `TreeInstance`; `noise`: `"gaussian"`
(`N(0, noise_std^2)`) or `"bernoulli"` (`X_v ~ Bernoulli(theta_v)`, needs theta in [0, 1]);
`horizon`: rounds per episode; `payment_cap`: largest transfer per edge (default: the number of
nodes, an upper bound on any useful transfer since theta is in [0, 1]); `max_cycles`: Parallel
steps before truncation (default `stages_per_round * horizon`).

Deviations from the source: the paper's exact protocol is not public (no code); the per-round
utility `X_v + received - paid`, the top-down order of offers and the observation set follow the
reference's reading (`hierarchical.md` §1-2, tagged hypothesis there). `contract_form="vector"` is
an extension.

### Version History
* v0: Initial release.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from gymnasium import spaces

from contract_envs.contracts import ContractTerms, HierarchyLedger, settle_hierarchy, validate_actions
from contract_envs.core import AutoResetStep
from contract_envs.pettingzoo_api import ContractParallelEnv, aec_from_parallel
from contract_envs.rng import BatchedStreams

_TIE = 1e-9


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
        parents = tuple(int(p) for p in self.parents)
        n = len(parents)
        if n < 1 or parents[0] != -1:
            raise ValueError(f"parents: node 0 must be the root (parent -1); got {list(parents)}")
        for v, p in enumerate(parents[1:], start=1):
            if not (0 <= p < v):
                raise ValueError(f"parents[{v}] = {p}: nodes must be in breadth-first order (0 <= parent < {v})")
        if len(self.theta) != n:
            raise ValueError(f"theta: expected one table per node ({n}), got {len(self.theta)}")
        children = tuple(tuple(w for w in range(n) if parents[w] == v) for v in range(n))
        tables = tuple(np.asarray(t, dtype=np.float64) for t in self.theta)
        n_actions = [t.shape[0] if t.ndim else 0 for t in tables]
        for v, t in enumerate(tables):
            want = (n_actions[v], *(n_actions[w] for w in children[v]))
            if t.ndim != 1 + len(children[v]) or t.shape != want or n_actions[v] < 1:
                raise ValueError(
                    f"theta[{v}] ({node_id(v)}): shape {t.shape}; expected (K_v, K_children...) = {want} "
                    f"with children {list(children[v])}"
                )
            if not np.all(np.isfinite(t)):
                raise ValueError(f"theta[{v}] ({node_id(v)}): contains NaN or inf")
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
    theta_r = np.array([
        [[0.1, 0.2, 0.3], [0.2, 0.4, 0.9], [0.0, 0.1, 0.2]],
        [[0.5, 0.1, 0.1], [0.3, 0.2, 0.1], [0.9, 0.3, 1.0]],
        [[0.2, 0.15, 0.2], [0.6, 0.6, 0.4], [0.1, 0.1, 0.1]],
    ])
    return TreeInstance((-1, 0, 0), (theta_r, np.array([0.9, 0.5, 0.1]), np.array([0.3, 0.8, 0.6])), name="T2")


NAMED_INSTANCES = {"T1": _instance_t1, "T2": _instance_t2}


def random_tree_instance(
    seed: int = 0, depth: int | None = None, branching: int | None = None, n_actions: int | None = None,
    margin: float = 0.05, max_tries: int = 20_000,
) -> TreeInstance:
    """A complete random tree (see the module docstring); parameters left ``None`` are drawn from the seed
    (depth in {1, 2, 3}, branching in {1, 2, 3}, actions in {2, 3}). Raises if no draw of ``theta``
    within ``max_tries`` has a unique optimum by ``margin``."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4)) if depth is None else int(depth)
    branching = int(rng.integers(1, 4)) if branching is None else int(branching)
    n_actions = int(rng.integers(2, 4)) if n_actions is None else int(n_actions)
    if depth < 0 or branching < 1 or n_actions < 1:
        raise ValueError(f"need depth >= 0, branching >= 1, n_actions >= 1; got {depth}, {branching}, {n_actions}")
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


# --------------------------------------------------------------------------- batched core
class TreeContractGame:
    """Batched rules of the tree contract game over ``num_envs`` environments (struct of arrays).

    Holds what the rules need: the instance, the noise model, each env's round counter and the
    previous round's actions and rewards (the nodes' bandit feedback). The stage machine that
    turns it into a game API is :class:`VectorTreeContractEnv`.
    """

    name = "tree_contracts"
    has_principal = True

    def __init__(
        self, instance: TreeInstance, num_envs: int = 1, noise: str = "gaussian", noise_std: float = 0.1,
        horizon: int | None = 100, payment_cap: float | None = None, contract_form: str = "recommendation",
        seed: int | None = None,
    ) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if noise not in ("gaussian", "bernoulli"):
            raise ValueError(f"noise must be 'gaussian' or 'bernoulli', got {noise!r}")
        if not (np.isfinite(noise_std) and noise_std >= 0):
            raise ValueError(f"noise_std must be finite and >= 0, got {noise_std}")
        if noise == "bernoulli" and any((t.min() < 0 or t.max() > 1) for t in instance.theta):
            raise ValueError("noise='bernoulli' needs every theta in [0, 1] (reward ~ Bernoulli(theta))")
        if horizon is not None and int(horizon) < 1:
            raise ValueError(f"horizon (rounds per episode) must be >= 1 or None, got {horizon}")
        if contract_form not in ("recommendation", "vector"):
            raise ValueError(f"contract_form must be 'recommendation' or 'vector', got {contract_form!r}")
        self.instance, self.noise, self.noise_std = instance, noise, float(noise_std)
        self.contract_form = contract_form
        self.num_envs, self.n_nodes = int(num_envs), instance.n_nodes
        self.horizon = None if horizon is None else int(horizon)
        self.payment_cap = float(instance.n_nodes if payment_cap is None else payment_cap)
        self.players = [node_id(v) for v in range(self.n_nodes)]
        self.k_max = max(instance.n_actions)
        self.inner = [v for v in range(self.n_nodes) if instance.children[v]]
        self.terms = {
            v: ContractTerms(len(instance.children[v]), max(instance.n_actions[w] for w in instance.children[v]),
                             self.payment_cap)
            for v in self.inner
        }
        offer_depths = sorted({instance.depth[v] for v in self.inner})
        self.stages: list[tuple[str, int | None]] = [("offer", d) for d in offer_depths] + [("act", None)]
        self.rng = BatchedStreams.from_seed(seed, self.num_envs)
        self.t = np.zeros(self.num_envs, dtype=np.int64)
        self.none_action = np.asarray(instance.n_actions, dtype=np.int64)
        self.last_actions = np.tile(self.none_action, (self.num_envs, 1))
        self.last_rewards = np.zeros((self.num_envs, self.n_nodes))
        self._build_spaces()

    # ------------------------------------------------------------------ spaces
    def _build_spaces(self) -> None:
        inst, cap = self.instance, self.payment_cap
        reward_box = (
            spaces.Box(0.0, 1.0, (1,), np.float32) if self.noise == "bernoulli"
            else spaces.Box(-np.inf, np.inf, (1,), np.float32)
        )
        self.observation_spaces: dict[str, spaces.Dict] = {}
        self.action_spaces: dict[str, spaces.Space] = {}
        for v, p in enumerate(self.players):
            obs = {"stage": spaces.Discrete(len(self.stages))}
            if v > 0:
                obs["contract"] = spaces.Box(0.0, cap, (inst.n_actions[v],), np.float32)
            obs["last_reward"] = reward_box
            if inst.children[v]:
                obs["children_actions"] = spaces.MultiDiscrete([inst.n_actions[w] + 1 for w in inst.children[v]])
                kids = inst.children[v]
                if self.contract_form == "recommendation":
                    offer = {
                        "recommendations": spaces.MultiDiscrete([inst.n_actions[w] for w in kids]),
                        "transfers": spaces.Box(0.0, cap, (len(kids),), np.float32),
                    }
                else:
                    offer = {"contracts": self.terms[v].principal_action_space()}
                self.action_spaces[p] = spaces.Dict({"action": spaces.Discrete(inst.n_actions[v]), **offer})
            else:
                self.action_spaces[p] = spaces.Discrete(inst.n_actions[v])
            self.observation_spaces[p] = spaces.Dict(obs)
        n = self.n_nodes
        low = np.concatenate([[0], np.zeros(n * self.k_max), np.zeros(n), np.full(n, -np.inf)]).astype(np.float32)
        high = np.concatenate([[len(self.stages) - 1], np.full(n * self.k_max, cap), self.none_action,
                               np.full(n, np.inf)]).astype(np.float32)
        if self.noise == "bernoulli":
            low[-n:], high[-n:] = 0.0, 1.0
        self.state_space = spaces.Box(low, high, dtype=np.float32)

    # ------------------------------------------------------------------ dynamics
    def reset(self, seed: int | None = None, env_idx: np.ndarray | None = None) -> None:
        if seed is not None:
            if env_idx is not None:
                raise ValueError("a seed reseeds the whole batch; pass env_idx=None with a seed")
            self.rng.reseed(seed)
        idx = slice(None) if env_idx is None else np.asarray(env_idx)
        self.t[idx] = 0
        self.last_actions[idx] = self.none_action
        self.last_rewards[idx] = 0.0

    def mean_rewards(self, actions: np.ndarray) -> np.ndarray:
        return self.instance.rewards(actions)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Draw every node's reward for validated joint actions ``[B, N]``; returns (own rewards, truncated)."""
        mean = self.mean_rewards(actions)
        if self.noise == "gaussian":
            own = mean + self.noise_std * self.rng.normal(self.n_nodes)
        else:
            own = (self.rng.uniform(self.n_nodes) < mean).astype(np.float64)
        self.last_actions, self.last_rewards = actions.copy(), own
        self.t += 1
        truncated = np.zeros(self.num_envs, dtype=bool) if self.horizon is None else self.t >= self.horizon
        return own, truncated

    # ------------------------------------------------------------------ views
    def observation(self, stage_index: int, contracts: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """Every node's observation batch; ``contracts [B, N, K_max]`` holds each node's current offer."""
        inst, b = self.instance, self.num_envs
        stage = np.full(b, stage_index, dtype=np.int64)
        out = {}
        for v, p in enumerate(self.players):
            obs = {"stage": stage}
            if v > 0:
                obs["contract"] = contracts[:, v, : inst.n_actions[v]].astype(np.float32)
            obs["last_reward"] = self.last_rewards[:, v : v + 1].astype(np.float32)
            if inst.children[v]:
                obs["children_actions"] = self.last_actions[:, list(inst.children[v])].copy()
            out[p] = obs
        return out

    def state(self, stage_index: int, contracts: np.ndarray) -> np.ndarray:
        parts = [np.full((self.num_envs, 1), stage_index), contracts.reshape(self.num_envs, -1),
                 self.last_actions, self.last_rewards]
        return np.concatenate(parts, axis=1).astype(np.float32)

    def render_ansi(self, env_index: int) -> str:
        b = env_index
        text = f"tree_contracts[{self.instance.name}]: round {int(self.t[b])}"
        if self.t[b] > 0:
            rewards = np.round(self.last_rewards[b], 3).tolist()
            text += f" | last actions {self.last_actions[b].tolist()} rewards {rewards}"
        return text

    @property
    def vector_env_class(self):
        return VectorTreeContractEnv


class VectorTreeContractEnv(AutoResetStep):
    """Batched multi-player API of a :class:`TreeContractGame` (stage machine, validation, settlement).

    ``step(actions)`` takes a dict node -> action batch: an int array ``[B]`` for a leaf; for an
    inner node a dict with ``"action" [B]`` and its offer, ``"recommendations" [B, n_children]`` and
    ``"transfers" [B, n_children]`` (``"contracts" [B, n_children, K_c]`` with
    ``contract_form="vector"``); only the part that counts in the current stage is needed, and only
    the nodes whose ``infos[node]["acting"]`` is true need to be given. Returns five dicts of
    arrays, as :class:`~contract_envs.core.VectorContractEnv`.
    """

    def __init__(self, game: TreeContractGame, autoreset: bool = True) -> None:
        self.game, self.autoreset = game, autoreset
        self.num_envs = game.num_envs
        self.possible_agents = list(game.players)
        self.agents = self.possible_agents
        self.node_index = {p: v for v, p in enumerate(self.possible_agents)}
        self.stages_per_round = len(game.stages)
        self.ledger = HierarchyLedger(self.num_envs, game.n_nodes)
        self.contracts = np.zeros((self.num_envs, game.n_nodes, game.k_max))
        self.stage_index = 0
        self.final_observations: dict[str, Any] | None = None
        self._zero = {p: np.zeros(self.num_envs) for p in self.possible_agents}
        self._false = np.zeros(self.num_envs, dtype=bool)

    @property
    def stage(self) -> str:
        kind, depth = self.game.stages[self.stage_index]
        return kind if depth is None else f"{kind}@depth{depth}"

    def acting_nodes(self) -> list[int]:
        """Indices of the nodes whose action counts in the coming step."""
        kind, depth = self.game.stages[self.stage_index]
        if kind == "act":
            return list(range(self.game.n_nodes))
        return [v for v in self.game.inner if self.game.instance.depth[v] == depth]

    def observation_space(self, player: str) -> spaces.Space:
        return self.game.observation_spaces[player]

    def action_space(self, player: str) -> spaces.Space:
        return self.game.action_spaces[player]

    def reset(self, seed: int | None = None) -> tuple[dict, dict]:
        self.game.reset(seed=seed)
        self.ledger.reset()
        self.contracts[...] = 0.0
        self.stage_index = 0
        self.final_observations = None
        return self._observe(), self._infos()

    def _part(self, actions: dict[str, Any], v: int, key: str, bare_ok: bool = True) -> Any:
        """The ``key`` entry of node ``v``'s action (a bare array stands for it when unambiguous)."""
        player = self.possible_agents[v]
        if player not in actions:
            raise ValueError(f"{player}: no action given in stage {self.stage!r}")
        a = actions[player]
        if isinstance(a, dict):
            if key not in a:
                raise ValueError(f"{player}: action dict has no {key!r} entry, which counts in stage {self.stage!r}")
            return a[key]
        if not bare_ok:
            raise ValueError(
                f"{player}: in stage {self.stage!r} the offer must be a dict with 'recommendations' and 'transfers'"
            )
        return a

    def _offer(self, actions: dict[str, Any]) -> None:
        g, inst = self.game, self.game.instance
        for v in self.acting_nodes():
            player = self.possible_agents[v]
            kids = inst.children[v]
            if g.contract_form == "recommendation":
                rec = self._part(actions, v, "recommendations", bare_ok=False)
                transfers = self._part(actions, v, "transfers", bare_ok=False)
                rec = np.asarray(rec)
                if rec.shape == (len(kids),) and self.num_envs == 1:
                    rec = rec[None]
                if rec.shape != (self.num_envs, len(kids)) or rec.dtype.kind not in "biu":
                    raise ValueError(
                        f"{player}: recommendations must be ints of shape ({self.num_envs}, {len(kids)}) "
                        f"(one action per child {[node_id(w) for w in kids]}), got {rec.dtype} {rec.shape}"
                    )
                tr = self._validate(v, np.asarray(transfers)[..., None], ContractTerms(len(kids), 1, g.payment_cap))
                offer = np.zeros((self.num_envs, len(kids), g.terms[v].n_outcomes))
                for j, w in enumerate(kids):
                    bad = (rec[:, j] < 0) | (rec[:, j] >= inst.n_actions[w])
                    if bad.any():
                        raise ValueError(
                            f"{player}: recommended action {int(rec[bad, j][0])} for {node_id(w)} is out of range; "
                            f"allowed [0, {inst.n_actions[w] - 1}]"
                        )
                    offer[np.arange(self.num_envs), j, rec[:, j]] = tr[:, j, 0]
            else:
                offer = self._validate(v, self._part(actions, v, "contracts"), g.terms[v])
            for j, w in enumerate(kids):
                k_w = inst.n_actions[w]
                if np.any(offer[:, j, k_w:] > 0):
                    raise ValueError(
                        f"{player}: contract to {node_id(w)} pays for actions >= {k_w}, which it does not have"
                    )
                self.contracts[:, w, : offer.shape[2]] = offer[:, j]

    def _validate(self, v: int, offer: Any, terms: ContractTerms) -> np.ndarray:
        """The contract layer's validation, with its per-agent index translated to the child's node id."""
        try:
            return terms.validate(offer, self.num_envs, player=self.possible_agents[v])
        except ValueError as err:
            kids = ", ".join(f"agent_{j} = {node_id(w)}" for j, w in enumerate(self.game.instance.children[v]))
            raise ValueError(f"{err} [children: {kids}]") from None

    def step_arrays(self, actions: dict[str, Any]):
        """One stage without infos or auto-reset (the adapters' hot path); ``done`` is ``None``
        after an offer stage and the truncation flags ``[B]`` after the act stage."""
        g = self.game
        if self.stage_index == 0:
            self.ledger.clear_step()
        if g.stages[self.stage_index][0] == "offer":
            self._offer(actions)
            self.stage_index += 1
            done = {p: self._false for p in self.possible_agents}
            return self._observe(), self._zero, done, done, None
        joint = np.empty((self.num_envs, g.n_nodes), dtype=np.int64)
        for v, player in enumerate(self.possible_agents):
            one = {player: self._part(actions, v, "action")}
            joint[:, v] = validate_actions(one, self.num_envs, g.instance.n_actions[v], [player])[:, 0]
        own, truncated = g.step(joint)
        s = settle_hierarchy(self.contracts, joint, own, g.instance.parents)
        self.ledger.record(s)
        rewards = {p: s.utility[:, v] for v, p in enumerate(self.possible_agents)}
        self.stage_index = 0
        self.contracts = np.zeros_like(self.contracts)
        terms = dict.fromkeys(self.possible_agents, self._false)
        truncs = dict.fromkeys(self.possible_agents, truncated)
        return self._observe(), rewards, terms, truncs, truncated

    def state(self) -> np.ndarray:
        return self.game.state(self.stage_index, self.contracts)

    def _observe(self) -> dict[str, Any]:
        return self.game.observation(self.stage_index, self.contracts)

    def _infos(self, copy: bool = False) -> dict[str, dict[str, Any]]:
        acting = set(self.acting_nodes())
        infos = {}
        for v, p in enumerate(self.possible_agents):
            info = self.ledger.node_info(v)
            infos[p] = {k: val.copy() for k, val in info.items()} if copy else dict(info)
            infos[p]["acting"] = v in acting
        return infos


class parallel_env(ContractParallelEnv):  # noqa: N801  (PettingZoo naming convention)
    """PettingZoo ParallelEnv of the tree contract game (see the module docstring)."""

    metadata = {
        "name": "tree_contracts_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": True,
        "render_fps": 2,
    }

    def _infos(self) -> dict[str, dict[str, Any]]:
        """Scalar infos of the live nodes straight from the hierarchy ledger, plus ``acting``."""
        vec = self.vec
        acting = set(vec.acting_nodes())
        keys, table = vec.ledger.info_keys, vec.ledger.node[0]
        out = {}
        for p in self.agents:
            v = vec.node_index[p]
            out[p] = dict(zip(keys, table[v].tolist(), strict=True))
            out[p]["acting"] = v in acting
        return out

    @classmethod
    def make_game(
        cls, num_envs: int, instance: str | int | TreeInstance = "T1", noise: str = "gaussian",
        noise_std: float = 0.1, horizon: int | None = 100, payment_cap: float | None = None,
        contract_form: str = "recommendation", seed: int | None = None,
    ) -> TreeContractGame:
        return TreeContractGame(
            tree_instance(instance), num_envs=num_envs, noise=noise, noise_std=noise_std, horizon=horizon,
            payment_cap=payment_cap, contract_form=contract_form, seed=seed,
        )


env = aec_from_parallel(parallel_env)
raw_env = env
