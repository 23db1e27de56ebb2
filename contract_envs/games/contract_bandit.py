"""
# Contract Bandit

This environment is part of the *principal-agent* environments of contract-envs. Please read
[Concepts](../concepts.md) first for the round structure, the ledger and the role views.

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/contract_bandit-v1")` |
| Actions | Mixed: principal Continuous (Box), agent Discrete |
| Parallel API | Yes (native AEC via `contract_envs.make("aec", ...)`) |
| Manual Control | No |
| Agents | `agents = ['principal_0', 'agent_0']` |
| Agents | 2 |
| Action Shape | principal `(1, O)`, agent `()` |
| Action Values | principal `[0, payment_cap]`, agent `{0, ..., K-1}` |
| Observation Shape | principal `()` (last outcome), agent `(O,)` (its contract) |
| Observation Values | principal `{0, ..., O}` (`O` = no round yet), agent `[0, payment_cap]` |
| State Shape | `(1 + O,)` |
| State Values | `[last outcome, contract...]` |

The repeated principal-agent bandit (Scheid et al., *Incentivized Learning in Principal-Agent
Bandit Games*, ICML 2024, arXiv 2403.03811) and, as a preset, the one-shot hidden-action contract
E8 (Wu et al., *Contractual RL*, arXiv 2407.01458, horizon 1) played repeatedly. Each round the
principal offers the agent an incentive vector: a non-negative payment per outcome; the agent
picks one of `K` actions (arms); an outcome `o ~ P(.|a)` is drawn; the agent gets its own value
`s_a` plus the payment for `o`; the principal gets a noisy reward `theta_o + noise` minus the
payment. In the bandit the outcome is the arm (`P` = identity: observed action); in E8 the
principal sees only a success/failure outcome (hidden action).

**The reference agent best-responds**: it plays `argmax_a s_a + sum_o P(o|a) p_o` with a
documented tie rule: `"lowest"` (lowest index, numpy `argmax`, as the reference notebook; the
bandit's default: offer `tau* + 1/T^2` to be robust) or `"principal"` (the action the principal
prefers, then the lowest index; E8's default, the contract-theory convention). This environment
keeps the agent a player (`agent_0`), so learning agents can be studied too; the reference
problem, a principal facing the best-responding agent, is the principal's Gymnasium view
`PrincipalGymEnv("contract_envs/contract_bandit-v1", **kwargs)` (`contract_envs.adapters.views`;
one step = one round), also registered as `gymnasium.make("contract_envs/ContractBanditPrincipal-v1",
**kwargs)`: without an `agent_policy` it plugs in the game's reference policy
(`game.default_policy()`, the best-responding agent). Batched: `machine.game.best_response(offers)` as
the agent's action in `contract_envs.vector.make("contract_envs/contract_bandit-v1", num_envs, ...)`.

### Rounds and turn order
Two Parallel steps per round (`contract_envs.core.machines.SequentialContracts`): the principal's
offer stage, then the agent's act stage (it observes its contract). Rewards arrive after the act
stage; `infos[player]["acting"]` says whose move counts in the coming step (a move of the other
player, if given, is checked and ignored). In the native AEC form each round is two turns: the
principal, then the agent; the offer takes effect at once, so the agent sees its contract at its
turn.

### Observation Space
Principal: the previous round's outcome (`Discrete(O + 1)`, `O` before the first round): the arm
in the bandit (observed action), success/failure in E8 (hidden action). Its own noisy reward is
in its reward (utility = own reward - payment) and in `infos["principal_0"]["own_reward"]`.
Agent: its current contract, `Box(0, payment_cap, (O,), float64)` (zeros in the offer stage).
It is float64, unlike the suite's float32 contracts, because the reference's tie-breaking margin
`1/T^2` (1e-8 at T = 10^4) is below float32 resolution near the incentives: offer float64 arrays
(the principal's `Box` is declared float32 like every contract space, but offers are validated and
settled in float64).

### Realised outcomes
The step that settles a round reports the drawn outcome in `infos["agent_0"]["outcome"]` and
`infos["principal_0"]["outcomes"]` (one entry per agent; `-1` in every other step). The principal
observes it anyway (its observation is the last outcome), so the infos add nothing it does not
see; the agent's action is never reported to the principal (in E8 it is hidden).

### Action Space
Principal: `Box(0, payment_cap, (1, O), float32)`: the incentive vector (negative, NaN or
above-cap payments raise `ValueError`). Agent: `Discrete(K)`.

### Rewards
Agent `s_a + p_o`; principal `theta_o + noise - p_o`. `infos` carry the contract layer's ledger.

### Instances
* `"ipa_k5"` (default): `theta = [0.30, 0.24, 0.88, 0.07, 0.65]`, `s = [0.64, 0.99, 0.73, 0.61,
  0.59]`, Gaussian noise `sigma = 1`. Optimum: arm 2 with incentive 0.26, value 0.62 per round
  (without incentives the agent plays arm 1: 0.24).
* `"e8"`: actions cost `[0, 0.1, 0.3]` (`s = -cost`), `P(success|a) = [0.1, 0.5, 0.9]`, success
  worth 1 (`theta = [0, 1]` over outcomes failure/success), no extra noise. Optimum: pay 0.5 on
  success, the agent takes action 2; principal 0.45, agent 0.15, welfare 0.6.
* Any `BanditInstance(agent_values, principal_values, outcome_probs=None)` (finite real arrays).
Exact optimum: `contract_envs.solvers.solve_contract_bandit(instance)`. Baseline learners and their
regret: `baselines/ipa_bandit.py` (IPA, epsilon-greedy principal, UCB oracle; observed action) and
`baselines/contract_grid_ucb.py` (UCB over a grid of success payments; hidden action, E8).

### Arguments
```python
contract_envs.make("parallel", "contract_envs/contract_bandit-v1",
                   instance="ipa_k5", noise="gaussian", noise_std=None, tie_break=None,
                   horizon=10_000, payment_cap=2.0, max_cycles=None, render_mode=None)
```
`instance`: a preset name or a `BanditInstance`; `noise`: `"gaussian"` (`theta_o + N(0,
noise_std^2)`; `noise_std` default: the preset's, 1.0 for `ipa_k5`, 0.0 for `e8`) or
`"bernoulli"` (`Bernoulli(theta_o)`); `tie_break`: the tie rule of `best_response` (default: the
preset's); `horizon`: rounds per episode (an integer >= 1, the reference's T = 10,000; `None`: never
truncated), the one episode-length argument of the game; `payment_cap`: largest payment per outcome
(finite, > 0). `max_cycles` (adapters only): Parallel steps, or AEC rounds, before truncation
(default `None`: `horizon` ends episodes). Every argument is checked: NaN, inf, a non-integral
`horizon`, a negative `noise_std` or a non-positive `payment_cap` raise `ValueError` naming it.

Deviation from the sources: the reference agent is a deterministic best responder; here it is a
player with that best response provided (`default_policy`, `best_response`), so that the same
environment also serves learning agents. The agent's own reward is its mean `s_a` (noise-free).

### Version History
* v1: the game on the `Game` protocol (`ContractBanditGame` with an explicit `ContractBanditState`;
  the generic stage machine, adapters and role views run it). Same dynamics: a seed and the same
  moves give the same trajectories as v0. Changes: id `contract_bandit-v1`; the AEC form is native
  (two turns a round: principal, then agent; v0 converted the Parallel env and asked both players in
  both stages), and its `max_cycles` counts rounds; `principal_env` is removed: use
  `PrincipalGymEnv("contract_envs/contract_bandit-v1")` (default agent: `game.default_policy()`, the
  best responder) or the new Gymnasium id `contract_envs/ContractBanditPrincipal-v1`;
  `BestResponsePolicy` is called as `(player, observation)`; the batched API's offers are
  `machine.offers` (v0: `env.contracts`); `infos` add the realised outcome (`outcome` /
  `outcomes`); every constructor argument is validated (NaN, inf, non-integral `horizon`, complex or
  non-numeric instance arrays raise `ValueError`); the game takes no `seed` (seeds go to `reset` and
  `contract_envs.vector.make`) and the module no longer has `ENV_ID`, `env`, `raw_env` or
  `parallel_env` (`contract_envs.make` builds every form); Parallel `max_cycles` defaults to `None`
  (v0: `2 * horizon`, the same episode length).
* v0: Initial release.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

import contract_envs.games._draw as _draw
from contract_envs.checks import check_choice, check_real, real_array
from contract_envs.contracts import ContractTerms
from contract_envs.core.game import Game, GameState, Transition, index_contract_state
from contract_envs.rng import BatchedStreams

# the exact reference of this game, for its documentation page (where the optimum is and how to compute it)
EXACT_OPTIMUM = (
    "Yes: `solve_contract_bandit(instance)` (the optimal arm and min-pay contract: `ipa_k5` arm 2, "
    "incentive 0.26, value 0.62 per round; `e8` 0.45)"
)

TIE_BREAKS = ("lowest", "principal")
NOISES = ("gaussian", "bernoulli")
_TIE = 1e-12


@dataclass(frozen=True, eq=False)
class BanditInstance:
    """A repeated principal-agent game with one agent, validated on construction.

    Attributes:
        agent_values: ``[K]`` the agent's own mean reward of each action ``s_a`` (known to it).
        principal_values: ``[O]`` the principal's mean reward of each outcome ``theta_o``.
        outcome_probs: ``[K, O]`` outcome distribution of each action; ``None`` = identity
            (observed action: the outcome is the arm).
        noise_std: default Gaussian noise of the principal's reward.
        tie_break: default tie rule of the best-responding agent (``"lowest"`` or ``"principal"``).
        name: label.
    """

    agent_values: np.ndarray
    principal_values: np.ndarray
    outcome_probs: np.ndarray | None = None
    noise_std: float = 1.0
    tie_break: str = "lowest"
    name: str = "custom"

    def __post_init__(self) -> None:
        owner = "BanditInstance"
        s = real_array("agent_values", self.agent_values, ndim=1, owner=owner)
        theta = real_array("principal_values", self.principal_values, ndim=1, owner=owner)
        if len(s) < 1 or len(theta) < 1:
            raise ValueError(
                f"{owner}: agent_values [K] and principal_values [O] must be non-empty, got {s.shape}, {theta.shape}"
            )
        if self.outcome_probs is None:
            probs = np.eye(len(s))
        else:
            probs = real_array("outcome_probs", self.outcome_probs, ndim=2, owner=owner)
        if probs.shape != (len(s), len(theta)):
            raise ValueError(f"outcome_probs: shape {probs.shape}; expected [K, O] = {(len(s), len(theta))}")
        if np.any(probs < 0) or np.any(np.abs(probs.sum(1) - 1) > 1e-9):
            raise ValueError("outcome_probs: every row must be a distribution (non-negative, sums to 1)")
        check_choice("tie_break", self.tie_break, TIE_BREAKS, owner=owner)
        noise_std = check_real("noise_std", self.noise_std, 0.0, owner=owner)
        object.__setattr__(self, "agent_values", s)
        object.__setattr__(self, "principal_values", theta)
        object.__setattr__(self, "outcome_probs", probs)
        object.__setattr__(self, "noise_std", noise_std)

    @property
    def n_actions(self) -> int:
        return len(self.agent_values)

    @property
    def n_outcomes(self) -> int:
        return len(self.principal_values)

    @property
    def observed_action(self) -> bool:
        return self.n_actions == self.n_outcomes and np.array_equal(self.outcome_probs, np.eye(self.n_actions))

    def best_response(self, contracts: np.ndarray, tie_break: str | None = None) -> np.ndarray:
        """The agent's best response ``[B]`` to contracts ``[B, O]`` (or ``[O]``, giving ``[1]``)."""
        tie_break = self.tie_break if tie_break is None else check_choice("tie_break", tie_break, TIE_BREAKS)
        p = np.atleast_2d(np.asarray(contracts, dtype=np.float64))
        agent = self.agent_values + p @ self.outcome_probs.T  # [B, K]
        best = agent >= agent.max(axis=1, keepdims=True) - _TIE  # ties up to float rounding
        if tie_break == "lowest":
            return np.argmax(best, axis=1)
        principal = self.principal_values @ self.outcome_probs.T - p @ self.outcome_probs.T
        return np.argmax(np.where(best, principal, -np.inf), axis=1)


def ipa_k5() -> BanditInstance:
    """The K = 5 instance of the reference notebook (IPA experiments)."""
    return BanditInstance(
        agent_values=np.array([0.64, 0.99, 0.73, 0.61, 0.59]),
        principal_values=np.array([0.30, 0.24, 0.88, 0.07, 0.65]),
        noise_std=1.0,
        tie_break="lowest",
        name="ipa_k5",
    )


def e8() -> BanditInstance:
    """The hidden-action contract E8 (costs [0, 0.1, 0.3], success probabilities [0.1, 0.5, 0.9])."""
    p1 = np.array([0.1, 0.5, 0.9])
    return BanditInstance(
        agent_values=-np.array([0.0, 0.1, 0.3]),
        principal_values=np.array([0.0, 1.0]),
        outcome_probs=np.stack([1 - p1, p1], axis=1),
        noise_std=0.0,
        tie_break="principal",
        name="e8",
    )


PRESETS = {"ipa_k5": ipa_k5, "e8": e8}


def bandit_instance(name: str | BanditInstance = "ipa_k5") -> BanditInstance:
    """A preset (``"ipa_k5"``, ``"e8"``) or the instance itself."""
    if isinstance(name, BanditInstance):
        return name
    if isinstance(name, str) and name.lower() in PRESETS:
        return PRESETS[name.lower()]()
    raise ValueError(f"unknown bandit instance {name!r}; presets: {sorted(PRESETS)} or a BanditInstance")


class BestResponsePolicy:
    """The reference agent as a policy ``(player, contract observation [O]) -> action`` (picklable; what
    :meth:`ContractBanditGame.default_policy` returns and role views plug in)."""

    def __init__(self, instance: str | BanditInstance = "ipa_k5", tie_break: str | None = None) -> None:
        self.instance = bandit_instance(instance)
        self.tie_break = None if tie_break is None else check_choice("tie_break", tie_break, TIE_BREAKS)

    def __call__(self, player: str, contract: Any) -> int:
        return int(self.instance.best_response(np.asarray(contract).reshape(1, -1), self.tie_break)[0])


def best_response_policy(instance: str | BanditInstance = "ipa_k5", tie_break: str | None = None) -> BestResponsePolicy:
    """The reference agent as a policy ``(player, contract observation [O]) -> action`` (for role views)."""
    return BestResponsePolicy(instance, tie_break)


@dataclass
class ContractBanditState(GameState):
    """State of a batch: the previous round's outcome (``O`` before the first round: the principal's
    observation), the agent's action (``-1`` before the first round) and the contract ``last_offers [B, 1, O]``
    (renders only)."""

    last_outcome: np.ndarray
    last_action: np.ndarray
    last_offers: np.ndarray | None = None  # [B, 1, O]: the contract of the last round (renders)


class ContractBanditGame(Game):
    """Batched rules of a :class:`BanditInstance` (a repeated game: the state is only the last round)."""

    name = "contract_bandit"
    render_modes = ("ansi", "human", "rgb_array")

    def __init__(
        self,
        instance: BanditInstance,
        num_envs: int = 1,
        noise: str = "gaussian",
        noise_std: float | None = None,
        tie_break: str | None = None,
        horizon: int | None = 10_000,
        payment_cap: float = 2.0,
    ) -> None:
        if not isinstance(instance, BanditInstance):
            raise ValueError(f"{self.name}: instance must be a BanditInstance, got {type(instance).__name__}")
        self.noise = check_choice("noise", noise, NOISES, owner=self.name)
        theta = instance.principal_values
        if noise == "bernoulli" and (theta.min() < 0 or theta.max() > 1):
            raise ValueError(
                f"{self.name}: noise='bernoulli' needs principal_values in [0, 1] (reward ~ Bernoulli(theta))"
            )
        self.instance = instance
        std = instance.noise_std if noise_std is None else noise_std
        self.noise_std = check_real("noise_std", std, 0.0, owner=self.name)
        self.tie_break = (
            instance.tie_break if tie_break is None else check_choice("tie_break", tie_break, TIE_BREAKS, self.name)
        )
        cap = check_real("payment_cap", payment_cap, 0.0, low_open=True, owner=self.name)
        n_o = instance.n_outcomes
        super().__init__(num_envs, 1, instance.n_actions, ContractTerms(1, n_o, cap), horizon)
        self.payment_cap = cap
        self.principal_observation_space = spaces.Discrete(n_o + 1)
        # float64, unlike the suite's float32 contracts: the reference's 1/T^2 tie-breaking margins (1e-8 at
        # T = 10^4) are below float32 resolution near the incentives (~3e-8) and would be rounded away
        self.agent_observation_space = spaces.Box(0.0, cap, (n_o,), dtype=np.float64)
        high = np.concatenate([[n_o], np.full(n_o, cap)]).astype(np.float32)
        self.state_space = spaces.Box(np.zeros(1 + n_o, np.float32), high, dtype=np.float32)

    def best_response(self, contracts: np.ndarray) -> np.ndarray:
        """The reference agent's actions ``[B]`` for the principal's offers ``[B, 1, O]`` or ``[B, O]``."""
        c = np.asarray(contracts, dtype=np.float64)
        return self.instance.best_response(c.reshape(c.shape[0], -1) if c.ndim == 3 else c, self.tie_break)

    def default_policy(self) -> BestResponsePolicy:
        """The best-responding agent (this game's tie rule), ``(player, contract) -> action``."""
        return BestResponsePolicy(self.instance, self.tie_break)

    # ------------------------------------------------------------------ rules
    def init_state(self) -> ContractBanditState:
        b = self.num_envs
        return ContractBanditState(
            t=np.zeros(b, dtype=np.int64),
            last_outcome=np.full(b, self.instance.n_outcomes, dtype=np.int64),
            last_action=np.full(b, -1, dtype=np.int64),
            last_offers=np.zeros((b, 1, self.instance.n_outcomes)),
        )

    def reset(self, state: ContractBanditState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        state.last_outcome[env_idx] = self.instance.n_outcomes
        state.last_action[env_idx] = -1

    def step(
        self, state: ContractBanditState, actions: np.ndarray, principal_action: np.ndarray | None, rng: BatchedStreams
    ) -> Transition:
        inst, a = self.instance, actions[:, 0]
        outcome = rng.categorical(inst.outcome_probs[a])
        theta = inst.principal_values[outcome]
        if self.noise == "gaussian":
            principal_own = theta + self.noise_std * rng.normal(1)[:, 0]
        else:
            principal_own = (rng.uniform(1)[:, 0] < theta).astype(np.float64)
        state.last_outcome, state.last_action = outcome, a.copy()
        if principal_action is not None:
            state.last_offers = principal_action
        terminated = np.zeros(self.num_envs, dtype=bool)
        return Transition(inst.agent_values[a][:, None], principal_own, outcome[:, None], terminated)

    # ------------------------------------------------------------------ views
    def observe_principal(self, state: ContractBanditState) -> np.ndarray:
        return state.last_outcome.copy()

    def observe_agents(self, state: ContractBanditState, offers: np.ndarray | None) -> np.ndarray:
        return offers.astype(np.float64, copy=True)

    def global_state(self, state: ContractBanditState, offers: np.ndarray | None) -> np.ndarray:
        return index_contract_state(state.last_outcome, offers)

    def render_ansi(self, state: ContractBanditState, env_index: int, offers: np.ndarray | None = None) -> str:
        b = env_index
        text = f"contract_bandit[{self.instance.name}]: round {int(state.t[b])}"
        if state.last_action[b] >= 0:
            text += f" | last action {int(state.last_action[b])} -> outcome {int(state.last_outcome[b])}"
        if offers is not None and np.any(offers[b] > 0):
            text += f" | contract offered {np.array2string(offers[b, 0], precision=3)}"
        return text

    def render_rgb(self, state: ContractBanditState, env_index: int, offers: np.ndarray | None = None) -> np.ndarray:
        """RGB frame uint8: the contract per outcome (on the table, or the last round's with the realised
        outcome framed and the payment), and per action the agent's own value, the payment it expects under
        that contract and their sum (what a best-responding agent maximises), the chosen action framed."""
        b, inst = env_index, self.instance
        k, n_o = inst.n_actions, inst.n_outcomes
        left, width = 12, 500
        height = 60 + 2 * _draw.GLYPH_HEIGHT + 40 + 18 * (k + 1) + 30
        canvas = _draw.Canvas(height, width)
        played = bool(state.t[b] > 0)
        canvas.text(4, left, f"Contract bandit [{inst.name}]  round {int(state.t[b])}/{self.horizon}", bold=True)
        kind = "observed action: the outcome is the arm" if inst.observed_action else "hidden action: outcome only"
        canvas.text(20, left, kind, _draw.MUTED)
        y = 40
        labels = [f"o={o}" for o in range(n_o)]
        if offers is not None:
            contract, taken = offers[b, 0], None
            canvas.text(y, left, "contract offered (agent acts next)")
        elif played:
            contract, taken = state.last_offers[b, 0], int(state.last_outcome[b])
            paid = float(contract[taken])
            line = f"last round: action {int(state.last_action[b])} -> outcome {taken}, paid {_draw.fmt(paid)}"
            canvas.text(y, left, line, _draw.MONEY)
        else:
            contract, taken = None, None
            canvas.text(y, left, "the principal offers a contract next", _draw.MUTED)
        box = max(34, min(56, (width - 2 * left) // max(n_o, 1) - 3))
        y = canvas.contract_row(y + 16, left, labels, contract, taken, box_width=box) + 10
        canvas.text(y, left, "action  own value  + expected pay  = agent's total", _draw.INK)
        y += 16
        pay = np.zeros(k) if contract is None else inst.outcome_probs @ np.asarray(contract, dtype=np.float64)
        total = inst.agent_values + pay
        high = max(float(np.abs(total).max()), 1e-9)
        chosen = int(state.last_action[b]) if played and offers is None else -1
        for a in range(k):
            if a == chosen:
                canvas.rect(y - 2, left - 4, y + 15, width - 8, _draw.HIGHLIGHT)
            canvas.text(y, left, f"{a:>4}", _draw.INK, bold=a == chosen)
            canvas.text(y, left + 56, _draw.fmt(float(inst.agent_values[a]), sign=True), _draw.MUTED)
            canvas.text(y, left + 130, _draw.fmt(float(pay[a]), sign=True), _draw.OFFER)
            canvas.text(y, left + 214, _draw.fmt(float(total[a]), 3), _draw.INK)
            canvas.bar(y + 3, left + 270, max(float(total[a]), 0.0), high, 200, 8, _draw.colour_of(0))
            y += 18
        values = ", ".join(_draw.fmt(float(v)) for v in inst.principal_values)
        canvas.text(y + 6, left, f"principal's value per outcome (mean): [{values}]", _draw.MUTED)
        return canvas.pixels


def make_game(
    num_envs: int = 1,
    instance: str | BanditInstance = "ipa_k5",
    noise: str = "gaussian",
    noise_std: float | None = None,
    tie_break: str | None = None,
    horizon: int | None = 10_000,
    payment_cap: float = 2.0,
) -> ContractBanditGame:
    """The game for ``num_envs`` environments (the registry's entry; arguments in the module docstring)."""
    return ContractBanditGame(
        bandit_instance(instance),
        num_envs=num_envs,
        noise=noise,
        noise_std=noise_std,
        tie_break=tie_break,
        horizon=horizon,
        payment_cap=payment_cap,
    )


__all__ = [
    "PRESETS",
    "TIE_BREAKS",
    "BanditInstance",
    "BestResponsePolicy",
    "ContractBanditGame",
    "ContractBanditState",
    "bandit_instance",
    "best_response_policy",
    "e8",
    "ipa_k5",
    "make_game",
]
