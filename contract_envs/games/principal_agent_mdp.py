"""
# Principal-Agent MDP

This environment is part of the *principal-agent* environments of contract-envs. Please read
[Concepts](../concepts.md) first for the round structure, the ledger and the role views.

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/principal_agent_mdp-v1")` |
| Actions | Mixed: principal Continuous (Box), agent Discrete |
| Parallel API | Yes; native AEC: `contract_envs.make("aec", ...)` (principal, then agent) |
| Manual Control | No |
| Agents | `agents = ['principal_0', 'agent_0']` |
| Agents | 2 |
| Action Shape | principal `(1, O)`, agent `()` |
| Action Values | principal `[0, payment_cap]`, agent `{0, ..., A-1}` |
| Observation Shape | principal `()` (state index), agent `{"state": (), "contract": (O,)}` |
| Observation Values | state `{0, ..., S-1}`, contract `[0, payment_cap]` |
| State Shape | `(1 + O,)` |
| State Values | `[state index, contract...]` |

A tabular principal-agent Markov decision process (Principal-Agent RL, Ivanov et al., arXiv
2407.18074), built from a :class:`PrincipalAgentMDPSpec`. Each round the principal observes the
state ``s`` and offers the agent a contract ``b`` (a non-negative payment per outcome); the agent
observes ``(s, b)`` and takes an action ``a``; an outcome ``o ~ O(s, a)`` is drawn; the agent
receives ``r(s, a) + b(o)``, the principal ``r_p(s, o) - b(o)``; the next state is drawn from
``T(s, o)``. The principal never sees the action (hidden action). Terminal states are absorbing,
have zero reward and end the episode.

### Rounds and stages
A round takes two Parallel steps (`contract_envs.core.machines.SequentialContracts`): an *offer*
stage (the principal's contract counts; the agent's move, if given, is only checked) and an *act*
stage (the agent's action counts; a principal's move, if given, is only checked).
`infos[player]["acting"]` tells whose move counts next. The native AEC env has one turn per player
per round: the principal, whose offer takes effect at once, then the agent, whose observation
carries the contract. Rewards arrive at the end of the act stage.

### Outcomes
The realised outcome of each round is in `infos["agent_0"]["outcome"]` and
`infos["principal_0"]["outcomes"]` (-1 in an offer step). The principal's observation is the state
only: in PARL the principal's contract is a function of the state, and in trees the outcome is
readable from the next state; in `random_mdp` specs it is not, so learners read it from `infos`.

### Observation Space
Principal: the state index (`Discrete(S)`). Agent: `Dict(state=Discrete(S), contract=Box(0, cap, (O,)))`;
the contract is all zeros in the offer stage.

### Action Space
Principal: `Box(0, payment_cap, (1, O), float32)`, one row per agent. A negative, NaN/inf or
above-cap payment raises `ValueError` (never clipped). Agent: `Discrete(A)`.

### Rewards
Agent `r(s, a) + b(o)`; principal `r_p(s, o) - b(o)`. `infos` carry the ledger: per step
`own_reward`, `payment`, `utility` (and the principal's `welfare` = `r + r_p`), and running
`episode_*` totals.

### Instances
* `random_binary_tree(depth, noise=0.9, seed)`: PARL's tree experiment: a complete binary tree with
  `2**depth - 1` decision states in breadth-first order and `2**depth` terminal leaves; 2 actions
  (0 low effort, 1 high effort), 2 outcomes (0 bad -> left child, 1 good -> right child);
  `P(o=1|a=0) = 1 - noise`, `P(o=1|a=1) = noise`; `r(s, 1) = -u` with `v ~ U[0,1], u ~ U[0, 1-v]`,
  `r(s, 0) = 0`; `r_p(s, 1) = u'` with `v' ~ U[0,2], u' ~ U[0, 2-v']`, `r_p(s, 0) = 0`; gamma = 1.
* `random_mdp(n_states, n_actions, n_outcomes, gamma, seed)`: a discounted MDP with cycles.
* `hidden_action_e8()`: the one-shot hidden-action contract (Wu et al.'s H = 1 case): optimum
  0.45 for the principal, 0.15 for the agent (pay 0.5 on success, induce the costliest action).

Exact equilibria: `contract_envs.solvers.solve_spe(spec)`.

### Arguments
```python
contract_envs.make("parallel", "contract_envs/principal_agent_mdp-v1",
                   spec=None, depth=4, instance_seed=0, horizon=None, payment_cap=10.0,
                   max_cycles=None, render_mode=None)
```
`spec`: a `PrincipalAgentMDPSpec` (default: `random_binary_tree(depth, seed=instance_seed)`;
give either `spec` or `depth`/`instance_seed`); `horizon`: rounds before truncation (default: none
for acyclic specs, 100 otherwise); `payment_cap`: largest payment per outcome; `max_cycles`: the
PettingZoo adapters' own cut-off (Parallel: `step` calls, two per round; AEC: rounds). Every
argument and every spec array is checked (finite reals, integral integers such as `depth` and
`initial_state`, distributions that sum to 1); a bad one raises `ValueError` naming it.

### Version History
* v1: the game shape of contract-envs 0.2: native AEC (one turn per player per round; previously
  `parallel_to_aec` gave both players a turn in both stages); realised outcomes in `infos`; moves of
  the player whose move does not count in a stage are checked; stricter spec and argument checks
  (complex or non-numeric arrays, non-integral states and sizes are errors); stepping before
  `reset()` or after the end raises; `max_cycles` counts Parallel steps or AEC rounds and no longer
  defaults to `2 * horizon`. Dynamics, spaces and random draws are unchanged.
* v0: Initial release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from gymnasium import spaces

import contract_envs.games._draw as _draw
from contract_envs.checks import check_int, check_real, real_array
from contract_envs.contracts import ContractTerms
from contract_envs.core.game import Game, GameState, Transition, index_contract_state
from contract_envs.rng import BatchedStreams, categorical_from_uniform

# the exact reference of this game, for its documentation page (where the optimum is and how to compute it)
EXACT_OPTIMUM = (
    "Yes: `contract_envs.solvers.solve_spe(spec)`, the subgame-perfect equilibrium (values, contracts, "
    "recommended actions); `agent_best_response` and `evaluate_policies` score a learned principal against the "
    "exact agent"
)

_PROB_TOL = 1e-9


def _as_transition_matrix(transitions, n_states: int, n_outcomes: int) -> sp.csr_matrix:
    """Transitions as CSR of shape ``[S * O, S]`` (row ``s * O + o`` is ``T(s, o)``)."""
    if sp.issparse(transitions):
        if transitions.dtype.kind not in "iuf":
            raise ValueError(f"transitions: sparse matrix has dtype {transitions.dtype}; expected real probabilities")
        mat = sp.csr_matrix(transitions, dtype=np.float64)
        if mat.shape != (n_states * n_outcomes, n_states):
            raise ValueError(
                f"transitions: sparse matrix has shape {mat.shape}; expected (S*O, S) = "
                f"({n_states * n_outcomes}, {n_states})"
            )
        return mat
    arr = real_array("transitions", transitions, owner="PrincipalAgentMDPSpec")
    if arr.shape != (n_states, n_outcomes, n_states):
        raise ValueError(f"transitions: shape {arr.shape}; expected [S, O, S] = {(n_states, n_outcomes, n_states)}")
    return sp.csr_matrix(arr.reshape(n_states * n_outcomes, n_states))


@dataclass(frozen=True, eq=False)
class PrincipalAgentMDPSpec:
    """A tabular principal-agent MDP, validated on construction.

    Attributes:
        outcome_probs: ``[S, A, O]`` outcome distribution ``O(s, a)``.
        agent_reward: ``[S, A]`` the agent's own reward ``r(s, a)`` (negative = effort cost).
        principal_reward: ``[S, O]`` the principal's own reward ``r_p(s, o)``.
        transitions: ``[S, O, S]`` next-state distribution ``T(s, o)``, dense, or a scipy sparse
            matrix of shape ``[S * O, S]`` (row ``s * O + o``) for large trees.
        terminal: ``[S]`` bool: absorbing states with zero reward that end an episode.
        gamma: discount in ``(0, 1]``; 1 needs every path to reach a terminal state.
        initial_state: the state every episode starts in.
    """

    outcome_probs: np.ndarray
    agent_reward: np.ndarray
    principal_reward: np.ndarray
    transitions: Any
    terminal: np.ndarray
    gamma: float = 1.0
    initial_state: int = 0
    transition_matrix: sp.csr_matrix = field(init=False, repr=False)

    def __post_init__(self) -> None:
        owner = "PrincipalAgentMDPSpec"
        probs = real_array("outcome_probs", self.outcome_probs, ndim=3, owner=owner)
        n_s, n_a, n_o = probs.shape
        if min(n_s, n_a, n_o) < 1:
            raise ValueError(f"{owner}: outcome_probs [S, A, O] needs S, A, O >= 1, got shape {probs.shape}")
        r = real_array("agent_reward", self.agent_reward, owner=owner)
        rp = real_array("principal_reward", self.principal_reward, owner=owner)
        term = np.asarray(self.terminal)
        checks = [
            ("agent_reward", r.shape, (n_s, n_a)),
            ("principal_reward", rp.shape, (n_s, n_o)),
            ("terminal", term.shape, (n_s,)),
        ]
        for name, got, want in checks:
            if got != want:
                raise ValueError(f"{name}: shape {got}; expected {want} (S={n_s}, A={n_a}, O={n_o})")
        if term.dtype != bool:
            raise ValueError(f"terminal: expected a bool array, got dtype {term.dtype}")
        for name, arr in (("outcome_probs", probs), ("agent_reward", r), ("principal_reward", rp)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name}: contains NaN or inf")
        if np.any(probs < 0) or np.any(np.abs(probs.sum(-1) - 1.0) > _PROB_TOL):
            s, a = np.argwhere((np.abs(probs.sum(-1) - 1.0) > _PROB_TOL) | (probs < 0).any(-1))[0]
            raise ValueError(
                f"outcome_probs[{s}, {a}] = {probs[s, a]} is not a distribution (non-negative, sums to 1 within 1e-9)"
            )
        mat = _as_transition_matrix(self.transitions, n_s, n_o)
        if mat.data.size and (not np.all(np.isfinite(mat.data)) or mat.data.min() < 0):
            raise ValueError("transitions: entries must be finite and non-negative")
        row_sums = np.asarray(mat.sum(axis=1)).ravel()
        if np.any(np.abs(row_sums - 1.0) > _PROB_TOL):
            row = int(np.argmax(np.abs(row_sums - 1.0) > _PROB_TOL))
            raise ValueError(f"transitions[{row // n_o}, {row % n_o}] sums to {row_sums[row]}, not 1 (within 1e-9)")
        terminal_states = np.flatnonzero(term)
        if terminal_states.size:
            rows = (terminal_states[:, None] * n_o + np.arange(n_o)).ravel()
            stay = np.asarray(mat[rows, np.repeat(terminal_states, n_o)]).ravel()
            if np.any(np.abs(stay - 1.0) > _PROB_TOL):
                raise ValueError("terminal states must be absorbing: T(s, o, s) = 1 for every terminal s and outcome o")
            if np.any(r[term] != 0) or np.any(rp[term] != 0):
                raise ValueError("terminal states must have zero agent_reward and principal_reward")
        gamma = check_real("gamma", self.gamma, 0.0, 1.0, low_open=True, owner=owner)
        initial = check_int("initial_state", self.initial_state, 0, n_s - 1, owner=owner)
        for name, value in (
            ("outcome_probs", probs),
            ("agent_reward", r),
            ("principal_reward", rp),
            ("terminal", term),
            ("transition_matrix", mat),
        ):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "initial_state", initial)

    @property
    def n_states(self) -> int:
        return self.outcome_probs.shape[0]

    @property
    def n_actions(self) -> int:
        return self.outcome_probs.shape[1]

    @property
    def n_outcomes(self) -> int:
        return self.outcome_probs.shape[2]

    def acyclic_levels(self) -> list[np.ndarray] | None:
        """Non-terminal states grouped by height (level 0 leads only to terminal states), or
        ``None`` if some non-terminal state can reach itself (the spec has cycles)."""
        n_s, n_o = self.n_states, self.n_outcomes
        coo = self.transition_matrix.tocoo()
        src = coo.row // n_o
        keep = ~self.terminal[src] & (coo.data > 0) & ~self.terminal[coo.col]
        graph = sp.csr_matrix((np.ones(int(keep.sum())), (src[keep], coo.col[keep])), shape=(n_s, n_s))
        remaining = ~self.terminal.copy()
        levels: list[np.ndarray] = []
        while remaining.any():
            pending = graph @ remaining.astype(np.float64)  # successors still unprocessed
            ready = remaining & (pending == 0)
            if not ready.any():
                return None
            levels.append(np.flatnonzero(ready))
            remaining &= ~ready
        return levels


def random_binary_tree(depth: int, noise: float = 0.9, seed: int | None = 0) -> PrincipalAgentMDPSpec:
    """PARL's random binary game tree (Appendix D.1): ``2**depth - 1`` decision states in
    breadth-first order, ``2**depth`` terminal leaves, gamma = 1 (see the module docstring)."""
    depth = check_int("depth", depth, 1, 24, owner="random_binary_tree")
    noise = check_real("noise (probability of the intended outcome)", noise, 0.5, 1.0, owner="random_binary_tree")
    rng = np.random.default_rng(None if seed is None else check_int("seed", seed, 0, owner="random_binary_tree"))
    n_dec = 2**depth - 1
    n_s = 2 * n_dec + 1
    v = rng.uniform(0.0, 1.0, n_dec)
    cost = rng.uniform(0.0, 1.0 - v)
    vp = rng.uniform(0.0, 2.0, n_dec)
    gain = rng.uniform(0.0, 2.0 - vp)
    probs = np.zeros((n_s, 2, 2))
    probs[:, 0] = [noise, 1.0 - noise]
    probs[:, 1] = [1.0 - noise, noise]
    agent_reward = np.zeros((n_s, 2))
    agent_reward[:n_dec, 1] = -cost
    principal_reward = np.zeros((n_s, 2))
    principal_reward[:n_dec, 1] = gain
    states = np.arange(n_s)
    nxt = np.empty((n_s, 2), dtype=np.int64)
    nxt[:n_dec, 0] = 2 * states[:n_dec] + 1
    nxt[:n_dec, 1] = 2 * states[:n_dec] + 2
    nxt[n_dec:] = states[n_dec:, None]
    terminal = states >= n_dec
    transitions = sp.csr_matrix((np.ones(2 * n_s), (np.arange(2 * n_s), nxt.ravel())), shape=(2 * n_s, n_s))
    return PrincipalAgentMDPSpec(probs, agent_reward, principal_reward, transitions, terminal, 1.0, 0)


def random_mdp(
    n_states: int,
    n_actions: int = 2,
    n_outcomes: int = 2,
    gamma: float = 0.9,
    seed: int | None = 0,
    successors: int = 3,
) -> PrincipalAgentMDPSpec:
    """A random discounted principal-agent MDP with cycles and no terminal state.

    Outcome distributions are Dirichlet(1); action 0 is free and other actions cost ``U[0, 1)``;
    the principal earns ``U[0, 2)`` per outcome; each ``(s, o)`` moves to ``successors`` random
    states with Dirichlet(1) probabilities.
    """
    owner = "random_mdp"
    n_states = check_int("n_states", n_states, 1, owner=owner)
    n_actions = check_int("n_actions", n_actions, 1, owner=owner)
    n_outcomes = check_int("n_outcomes", n_outcomes, 1, owner=owner)
    successors = check_int("successors", successors, 1, owner=owner)
    gamma = check_real("gamma (discounted: cycles)", gamma, 0.0, 1.0, low_open=True, high_open=True, owner=owner)
    rng = np.random.default_rng(None if seed is None else check_int("seed", seed, 0, owner=owner))
    probs = rng.dirichlet(np.ones(n_outcomes), size=(n_states, n_actions))
    agent_reward = -rng.uniform(0.0, 1.0, (n_states, n_actions))
    agent_reward[:, 0] = 0.0
    principal_reward = rng.uniform(0.0, 2.0, (n_states, n_outcomes))
    k = min(successors, n_states)
    rows = np.repeat(np.arange(n_states * n_outcomes), k)
    cols = np.concatenate([rng.choice(n_states, size=k, replace=False) for _ in range(n_states * n_outcomes)])
    vals = rng.dirichlet(np.ones(k), size=n_states * n_outcomes).ravel()
    transitions = sp.csr_matrix((vals, (rows, cols)), shape=(n_states * n_outcomes, n_states))
    transitions = transitions.multiply(1.0 / transitions.sum(axis=1)).tocsr()
    return PrincipalAgentMDPSpec(
        probs, agent_reward, principal_reward, transitions, np.zeros(n_states, dtype=bool), gamma, 0
    )


def hidden_action_e8() -> PrincipalAgentMDPSpec:
    """The one-shot hidden-action contract E8: actions cost ``[0, 0.1, 0.3]``, success
    probabilities ``[0.1, 0.5, 0.9]``, success worth 1 to the principal. Optimum: pay 0.5 on
    success, the agent takes action 2; principal 0.45, agent 0.15."""
    p1 = np.array([0.1, 0.5, 0.9])
    probs = np.zeros((2, 3, 2))
    probs[0, :, 1], probs[0, :, 0] = p1, 1 - p1
    probs[1, :, 0] = 1.0
    agent_reward = np.array([[0.0, -0.1, -0.3], [0.0, 0.0, 0.0]])
    principal_reward = np.array([[0.0, 1.0], [0.0, 0.0]])
    transitions = np.zeros((2, 2, 2))
    transitions[:, :, 1] = 1.0
    return PrincipalAgentMDPSpec(probs, agent_reward, principal_reward, transitions, np.array([False, True]), 1.0, 0)


@dataclass
class PrincipalAgentMDPState(GameState):
    """State of a batch: ``s [B]`` the current MDP state; the last round's action, outcome and contract
    ``last_offers [B, 1, O]`` (renders)."""

    s: np.ndarray
    last_action: np.ndarray
    last_outcome: np.ndarray
    last_offers: np.ndarray | None = None  # [B, 1, O]: the contract of the last round (renders)


class PrincipalAgentMDPGame(Game):
    """Batched rules of a :class:`PrincipalAgentMDPSpec` (one agent)."""

    name = "principal_agent_mdp"
    render_modes = ("ansi", "human", "rgb_array")

    def __init__(
        self, spec: PrincipalAgentMDPSpec, num_envs: int = 1, horizon: int | None = None, payment_cap: float = 10.0
    ) -> None:
        if not isinstance(spec, PrincipalAgentMDPSpec):
            raise ValueError(f"{self.name}: spec must be a PrincipalAgentMDPSpec, got {type(spec).__name__}")
        self.spec = spec
        self.levels = spec.acyclic_levels()
        if horizon is None and self.levels is None:
            horizon = 100
        cap = check_real("payment_cap", payment_cap, 0.0, low_open=True, owner=self.name)
        terms = ContractTerms(1, spec.n_outcomes, cap)
        super().__init__(num_envs, 1, spec.n_actions, terms, horizon)
        n_s, n_o = spec.n_states, spec.n_outcomes
        self.principal_observation_space = spaces.Discrete(n_s)
        self.agent_observation_space = spaces.Dict({"state": spaces.Discrete(n_s), "contract": terms.contract_space()})
        high = np.concatenate([[n_s - 1], np.full(n_o, cap)]).astype(np.float32)
        self.state_space = spaces.Box(np.zeros(1 + n_o, np.float32), high, dtype=np.float32)
        mat = spec.transition_matrix
        row_nnz = np.diff(mat.indptr)
        # Deterministic transitions (e.g. trees) need no random draw: a next-state table.
        self._next_state = mat.indices[mat.indptr[:-1]] if np.all(row_nnz == 1) else None
        self._cum = np.cumsum(mat.data)
        self._row_start = np.concatenate([[0.0], self._cum])[mat.indptr[:-1]]
        self._row_end = mat.indptr[1:] - 1

    def init_state(self) -> PrincipalAgentMDPState:
        b = self.num_envs
        return PrincipalAgentMDPState(
            t=np.zeros(b, dtype=np.int64),
            s=np.full(b, self.spec.initial_state, dtype=np.int64),
            last_action=np.full(b, -1, dtype=np.int64),
            last_outcome=np.full(b, -1, dtype=np.int64),
            last_offers=np.zeros((b, 1, self.spec.n_outcomes)),
        )

    def reset(self, state: PrincipalAgentMDPState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        state.s[env_idx] = self.spec.initial_state
        state.last_action[env_idx] = -1
        state.last_outcome[env_idx] = -1

    def step(
        self,
        state: PrincipalAgentMDPState,
        actions: np.ndarray,
        principal_action: np.ndarray | None,
        rng: BatchedStreams,
    ) -> Transition:
        spec, s, a = self.spec, state.s, actions[:, 0]
        if self._next_state is None:
            u = rng.uniform(2)
            outcome = categorical_from_uniform(spec.outcome_probs[s, a], u[:, 0])
            row = s * spec.n_outcomes + outcome
            mat = spec.transition_matrix
            start = self._row_start[row]
            pos = np.searchsorted(self._cum, start + u[:, 1] * (self._cum[self._row_end[row]] - start), side="right")
            nxt = mat.indices[np.clip(pos, mat.indptr[row], self._row_end[row])].astype(np.int64)
        else:
            outcome = rng.categorical(spec.outcome_probs[s, a])
            nxt = self._next_state[s * spec.n_outcomes + outcome].astype(np.int64)
        agent_own = spec.agent_reward[s, a][:, None]
        principal_own = spec.principal_reward[s, outcome]
        state.s, state.last_action, state.last_outcome = nxt, a.copy(), outcome
        if principal_action is not None:
            state.last_offers = principal_action
        return Transition(agent_own, principal_own, outcome[:, None], spec.terminal[nxt])

    def observe_principal(self, state: PrincipalAgentMDPState) -> np.ndarray:
        return state.s.copy()

    def observe_agents(self, state: PrincipalAgentMDPState, offers: np.ndarray | None) -> dict[str, np.ndarray]:
        return {"state": state.s[:, None].copy(), "contract": offers.astype(np.float32)}

    def global_state(self, state: PrincipalAgentMDPState, offers: np.ndarray | None) -> np.ndarray:
        return index_contract_state(state.s, offers)

    def render_ansi(self, state: PrincipalAgentMDPState, env_index: int, offers: np.ndarray | None = None) -> str:
        b = env_index
        text = f"principal_agent_mdp: round {state.t[b]}, state {state.s[b]}"
        if state.last_action[b] >= 0:
            text += f" | last action {state.last_action[b]} -> outcome {state.last_outcome[b]}"
        if offers is not None:
            text += f" | contract offered {np.array2string(offers[b, 0], precision=3)}"
        return text

    def tree_layout(self) -> dict[str, np.ndarray] | None:
        """``parent``, ``via`` (outcome leading to each state), ``depth`` and ``x`` (horizontal position in
        ``[0, 1]``) of every state when the spec is a small tree (deterministic transitions, every state
        reached by one (state, outcome) pair, at most 64 leaves), else ``None``; cached."""
        if "_tree" in self.__dict__:
            return self._tree
        self._tree = None
        spec = self.spec
        if self._next_state is None or self.levels is None:
            return None
        n_s, n_o = spec.n_states, spec.n_outcomes
        parent = np.full(n_s, -1, dtype=np.int64)
        via = np.full(n_s, -1, dtype=np.int64)
        for s in np.flatnonzero(~spec.terminal):
            for o in range(n_o):
                child = int(self._next_state[s * n_o + o])
                if child == s or parent[child] >= 0 or child == spec.initial_state:
                    return None
                parent[child], via[child] = s, o
        depth = np.zeros(n_s, dtype=np.int64)
        order = [spec.initial_state]
        for s in order:  # breadth-first from the initial state
            if not spec.terminal[s]:
                for o in range(n_o):
                    child = int(self._next_state[s * n_o + o])
                    depth[child] = depth[s] + 1
                    order.append(child)
        if len(order) != n_s:
            return None
        leaves = [s for s in order if spec.terminal[s]]
        if len(leaves) > 64:
            return None
        x = np.zeros(n_s)
        x[leaves] = (np.arange(len(leaves)) + 0.5) / len(leaves)
        for s in reversed(order):  # a decision state sits above the middle of its children
            if not spec.terminal[s]:
                x[s] = np.mean([x[int(self._next_state[s * n_o + o])] for o in range(n_o)])
        self._tree = {"parent": parent, "via": via, "depth": depth, "x": x}
        return self._tree

    def render_rgb(self, state: PrincipalAgentMDPState, env_index: int, offers: np.ndarray | None = None) -> np.ndarray:
        """RGB frame uint8: small trees drawn whole (edges by outcome, the path played so far in bold, the
        current state ringed), and below the contract (offered now, or the last round's with the realised
        outcome framed and the payment), and the agent's options at the current state."""
        b, spec = env_index, self.spec
        n_o, n_a = spec.n_outcomes, spec.n_actions
        s = int(state.s[b])
        layout = self.tree_layout()
        width, left = 500, 12
        tree_h = 0 if layout is None else 26 * (int(layout["depth"].max()) + 1) + 10
        options = min(n_a, 4)
        height = 40 + tree_h + 2 * _draw.GLYPH_HEIGHT + 40 + 16 * (options + 1) + 28
        canvas = _draw.Canvas(height, width)
        played = bool(state.t[b] > 0)
        title = f"Principal-agent MDP  round {int(state.t[b])}" + (f"/{self.horizon}" if self.horizon else "")
        canvas.text(4, left, title + f"  state {s}" + (" (terminal)" if spec.terminal[s] else ""), bold=True)
        canvas.text(20, left, "the principal pays per outcome; it never sees the agent's action", _draw.MUTED)
        y = 40
        outcome_colours = [(200, 35, 51), (25, 135, 84), (0, 114, 178), (204, 121, 167)]
        if layout is not None:
            parent, via, depth, xs = layout["parent"], layout["via"], layout["depth"], layout["x"]
            span = width - 2 * left - 20
            pos = {v: (y + 8 + 26 * depth[v], left + 10 + span * xs[v]) for v in range(spec.n_states)}
            path = set()
            v = s
            while v >= 0:
                path.add(v)
                v = int(parent[v])
            for v in range(spec.n_states):
                if parent[v] >= 0:
                    (y0, x0), (y1, x1) = pos[int(parent[v])], pos[v]
                    on_path = v in path
                    colour = outcome_colours[int(via[v]) % 4] if on_path else _draw.FAINT
                    canvas.line(y0, x0, y1, x1, colour, 3 if on_path else 1)
            for v in range(spec.n_states):
                cy, cx = pos[v]
                colour = _draw.INK if v in path else (_draw.MUTED if not spec.terminal[v] else _draw.FAINT)
                canvas.disc(cy, cx, 3.5 if spec.terminal[v] else 4.5, colour)
            cy, cx = pos[s]
            canvas.ring(cy, cx, 9, _draw.OFFER, 2.5)
            y += tree_h
            legend_x = left
            for o in range(min(n_o, 4)):
                canvas.rect(y - 4, legend_x, y - 1, legend_x + 14, outcome_colours[o])
                legend_x = canvas.text(y - 9, legend_x + 18, f"outcome {o}", _draw.MUTED) + 12
            y += 10
        labels = [f"o={o}" for o in range(n_o)]
        if offers is not None:
            canvas.text(y, left, f"contract offered at state {s} (agent acts next)", _draw.INK)
            canvas.contract_row(y + 16, left, labels, offers[b, 0], box_width=52)
        elif played:
            a, o = int(state.last_action[b]), int(state.last_outcome[b])
            paid = float(state.last_offers[b, 0, o])
            before = "" if layout is None else f" at state {int(layout['parent'][s])}"
            canvas.text(y, left, f"last round{before}: action {a} -> outcome {o}, paid {_draw.fmt(paid)}", _draw.MONEY)
            canvas.contract_row(y + 16, left, labels, state.last_offers[b, 0], o, box_width=52)
        else:
            canvas.text(y, left, "the principal offers a contract next", _draw.MUTED)
            canvas.contract_row(y + 16, left, labels, None, box_width=52)
        y += 16 + 2 * _draw.GLYPH_HEIGHT + 14
        if not spec.terminal[s]:
            canvas.text(y, left, f"agent's options at state {s}: own reward, outcome probabilities", _draw.INK)
            for a in range(options):
                probs = ", ".join(f"{p:.2f}" for p in spec.outcome_probs[s, a])
                text = f"action {a}: reward {_draw.fmt(spec.agent_reward[s, a], sign=True)}; P(o) = [{probs}]"
                canvas.text(y + 16 * (a + 1), left + 8, text, _draw.MUTED)
        return canvas.pixels


def make_game(
    num_envs: int = 1,
    spec: PrincipalAgentMDPSpec | None = None,
    depth: int = 4,
    instance_seed: int = 0,
    horizon: int | None = None,
    payment_cap: float = 10.0,
) -> PrincipalAgentMDPGame:
    """The game for ``num_envs`` environments (the registry's entry; arguments in the module docstring)."""
    if spec is None:
        spec = random_binary_tree(depth, seed=check_int("instance_seed", instance_seed, 0, owner="principal_agent_mdp"))
    elif depth != 4 or instance_seed != 0:
        raise ValueError(f"principal_agent_mdp: give either spec or depth/instance_seed, not both (spec={spec!r})")
    return PrincipalAgentMDPGame(spec, num_envs=num_envs, horizon=horizon, payment_cap=payment_cap)
