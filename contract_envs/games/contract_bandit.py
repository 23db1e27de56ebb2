"""
# Contract Bandit

This environment is part of the *principal-agent* environments of contract-envs. Please read that
page first for general information (round structure, ledger, role views).

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/contract_bandit-v0")` |
| Actions | Mixed: principal Continuous (Box), agent Discrete |
| Parallel API | Yes (AEC via `contract_envs.make("aec", ...)`) |
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
problem, a principal facing the best-responding agent, is `principal_env(**kwargs)` (a Gymnasium
env, one step = one round) or, batched, `game.best_response(contracts)` as the agent's action in
`contract_envs.vector.make("contract_envs/contract_bandit-v0", num_envs, ...)`.

### Rounds and stages
Two Parallel steps per round (`contract_envs.core`): the principal's offer stage, then the agent's
act stage (it observes its contract). Rewards arrive after the act stage.

### Observation Space
Principal: the previous round's outcome (`Discrete(O + 1)`, `O` before the first round): the arm
in the bandit (observed action), success/failure in E8 (hidden action). Its own noisy reward is
in its reward (utility = own reward - payment) and in `infos["principal_0"]["own_reward"]`.
Agent: its current contract, `Box(0, payment_cap, (O,), float64)` (zeros in the offer stage).
It is float64, unlike the suite's float32 contracts, because the reference's tie-breaking margin
`1/T^2` (1e-8 at T = 10^4) is below float32 resolution near the incentives: offer float64 arrays
(the principal's `Box` is declared float32 like every contract space, but offers are validated and
settled in float64).

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
* Any `BanditInstance(agent_values, principal_values, outcome_probs=None)`.
Exact optimum: `contract_envs.solvers.solve_contract_bandit(instance)`. Baseline learners and their
regret: `baselines/ipa_bandit.py` (IPA, epsilon-greedy principal, UCB oracle; observed action) and
`baselines/contract_grid_ucb.py` (UCB over a grid of success payments; hidden action, E8).

### Arguments
```python
contract_envs.make("parallel", "contract_envs/contract_bandit-v0",
                   instance="ipa_k5", noise="gaussian", noise_std=None, tie_break=None,
                   horizon=10_000, payment_cap=2.0, max_cycles=None, render_mode=None)
```
`instance`: a preset name or a `BanditInstance`; `noise`: `"gaussian"` (`theta_o + N(0,
noise_std^2)`; `noise_std` default: the preset's, 1.0 for `ipa_k5`, 0.0 for `e8`) or
`"bernoulli"` (`Bernoulli(theta_o)`); `tie_break`: the tie rule of `best_response` (default: the
preset's); `horizon`: rounds per episode (the reference's T = 10,000); `payment_cap`: largest payment
per outcome; `max_cycles`: Parallel steps before truncation (default `2 * horizon`).

Deviation from the sources: the reference agent is a deterministic best responder; here it is a
player with that best response provided (`principal_env`, `best_response`), so that the same
environment also serves learning agents. The agent's own reward is its mean `s_a` (noise-free).

### Version History
* v0: Initial release.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from contract_envs.contracts import ContractTerms
from contract_envs.core import ContractGame, Transition, index_contract_state, last_move_text
from contract_envs.pettingzoo_api import ContractParallelEnv, aec_from_parallel

ENV_ID = "contract_envs/contract_bandit-v0"
TIE_BREAKS = ("lowest", "principal")
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
        s = np.asarray(self.agent_values, dtype=np.float64)
        theta = np.asarray(self.principal_values, dtype=np.float64)
        if s.ndim != 1 or theta.ndim != 1 or len(s) < 1:
            raise ValueError(f"agent_values [K] and principal_values [O] must be 1-d, got {s.shape}, {theta.shape}")
        probs = np.eye(len(s)) if self.outcome_probs is None else np.asarray(self.outcome_probs, dtype=np.float64)
        if probs.shape != (len(s), len(theta)):
            raise ValueError(f"outcome_probs: shape {probs.shape}; expected [K, O] = {(len(s), len(theta))}")
        if not all(np.all(np.isfinite(x)) for x in (s, theta, probs)):
            raise ValueError("bandit instance contains NaN or inf")
        if np.any(probs < 0) or np.any(np.abs(probs.sum(1) - 1) > 1e-9):
            raise ValueError("outcome_probs: every row must be a distribution (non-negative, sums to 1)")
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {self.tie_break!r}")
        if not (np.isfinite(self.noise_std) and self.noise_std >= 0):
            raise ValueError(f"noise_std must be finite and >= 0, got {self.noise_std}")
        object.__setattr__(self, "agent_values", s)
        object.__setattr__(self, "principal_values", theta)
        object.__setattr__(self, "outcome_probs", probs)

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
        tie_break = self.tie_break if tie_break is None else tie_break
        if tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
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
        noise_std=1.0, tie_break="lowest", name="ipa_k5",
    )


def e8() -> BanditInstance:
    """The hidden-action contract E8 (costs [0, 0.1, 0.3], success probabilities [0.1, 0.5, 0.9])."""
    p1 = np.array([0.1, 0.5, 0.9])
    return BanditInstance(
        agent_values=-np.array([0.0, 0.1, 0.3]), principal_values=np.array([0.0, 1.0]),
        outcome_probs=np.stack([1 - p1, p1], axis=1), noise_std=0.0, tie_break="principal", name="e8",
    )


PRESETS = {"ipa_k5": ipa_k5, "e8": e8}


def bandit_instance(name: str | BanditInstance = "ipa_k5") -> BanditInstance:
    """A preset (``"ipa_k5"``, ``"e8"``) or the instance itself."""
    if isinstance(name, BanditInstance):
        return name
    if isinstance(name, str) and name.lower() in PRESETS:
        return PRESETS[name.lower()]()
    raise ValueError(f"unknown bandit instance {name!r}; presets: {sorted(PRESETS)} or a BanditInstance")


class ContractBanditGame(ContractGame):
    """Batched dynamics of a :class:`BanditInstance` (stateless repeated game)."""

    name = "contract_bandit"

    def __init__(
        self, instance: BanditInstance, num_envs: int = 1, noise: str = "gaussian", noise_std: float | None = None,
        tie_break: str | None = None, horizon: int | None = 10_000, payment_cap: float = 2.0, seed: int | None = None,
    ) -> None:
        if noise not in ("gaussian", "bernoulli"):
            raise ValueError(f"noise must be 'gaussian' or 'bernoulli', got {noise!r}")
        theta = instance.principal_values
        if noise == "bernoulli" and (theta.min() < 0 or theta.max() > 1):
            raise ValueError("noise='bernoulli' needs principal_values in [0, 1] (reward ~ Bernoulli(theta))")
        self.instance, self.noise = instance, noise
        self.noise_std = float(instance.noise_std if noise_std is None else noise_std)
        if not (np.isfinite(self.noise_std) and self.noise_std >= 0):
            raise ValueError(f"noise_std must be finite and >= 0, got {noise_std}")
        self.tie_break = instance.tie_break if tie_break is None else tie_break
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
        n_o = instance.n_outcomes
        super().__init__(num_envs, 1, instance.n_actions, ContractTerms(1, n_o, float(payment_cap)), horizon, seed)
        self.principal_observation_space = spaces.Discrete(n_o + 1)
        # float64, unlike the suite's float32 contracts: the reference's 1/T^2 tie-breaking margins (1e-8 at
        # T = 10^4) are below float32 resolution near the incentives (~3e-8) and would be rounded away
        self.agent_observation_space = spaces.Box(0.0, float(payment_cap), (n_o,), dtype=np.float64)
        high = np.concatenate([[n_o], np.full(n_o, payment_cap)]).astype(np.float32)
        self.state_space = spaces.Box(np.zeros(1 + n_o, np.float32), high, dtype=np.float32)
        self.last_outcome = np.full(self.num_envs, n_o, dtype=np.int64)
        self.last_action = np.full(self.num_envs, -1, dtype=np.int64)

    def best_response(self, contracts: np.ndarray) -> np.ndarray:
        """The reference agent's actions ``[B]`` for the principal's offers ``[B, 1, O]`` or ``[B, O]``."""
        c = np.asarray(contracts, dtype=np.float64)
        return self.instance.best_response(c.reshape(c.shape[0], -1) if c.ndim == 3 else c, self.tie_break)

    def _reset(self, env_idx: np.ndarray) -> None:
        self.last_outcome[env_idx] = self.instance.n_outcomes
        self.last_action[env_idx] = -1

    def _step(self, actions: np.ndarray) -> Transition:
        inst, a = self.instance, actions[:, 0]
        outcome = self.rng.categorical(inst.outcome_probs[a])
        theta = inst.principal_values[outcome]
        if self.noise == "gaussian":
            principal_own = theta + self.noise_std * self.rng.normal(1)[:, 0]
        else:
            principal_own = (self.rng.uniform(1)[:, 0] < theta).astype(np.float64)
        self.last_outcome, self.last_action = outcome, a.copy()
        terminated = np.zeros(self.num_envs, dtype=bool)
        return Transition(inst.agent_values[a][:, None], principal_own, outcome[:, None], terminated)

    def principal_observation(self) -> np.ndarray:
        return self.last_outcome.copy()

    def agent_observation(self, contracts: np.ndarray | None) -> np.ndarray:
        return contracts.astype(np.float64, copy=True)

    def state(self, contracts: np.ndarray | None) -> np.ndarray:
        return index_contract_state(self.last_outcome, contracts)

    def render_ansi(self, env_index: int) -> str:
        b = env_index
        last = last_move_text(self.last_action, self.last_outcome, b)
        return f"contract_bandit[{self.instance.name}]: round {self.t[b]}{last}"


class parallel_env(ContractParallelEnv):  # noqa: N801  (PettingZoo naming convention)
    """PettingZoo ParallelEnv of the repeated principal-agent bandit (see the module docstring)."""

    metadata = {
        "name": "contract_bandit_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": True,
        "render_fps": 2,
    }

    @classmethod
    def make_game(
        cls, num_envs: int, instance: str | BanditInstance = "ipa_k5", noise: str = "gaussian",
        noise_std: float | None = None, tie_break: str | None = None, horizon: int | None = 10_000,
        payment_cap: float = 2.0, seed: int | None = None,
    ) -> ContractBanditGame:
        return ContractBanditGame(
            bandit_instance(instance), num_envs=num_envs, noise=noise, noise_std=noise_std, tie_break=tie_break,
            horizon=horizon, payment_cap=payment_cap, seed=seed,
        )


env = aec_from_parallel(parallel_env)
raw_env = env


class BestResponsePolicy:
    """The reference agent as a policy ``contract observation [O] -> action`` (picklable, for role views)."""

    def __init__(self, instance: str | BanditInstance = "ipa_k5", tie_break: str | None = None) -> None:
        self.instance, self.tie_break = bandit_instance(instance), tie_break

    def __call__(self, contract: Any) -> int:
        return int(self.instance.best_response(np.asarray(contract).reshape(1, -1), self.tie_break)[0])


def best_response_policy(instance: str | BanditInstance = "ipa_k5", tie_break: str | None = None) -> BestResponsePolicy:
    """The reference agent as a policy ``contract observation [O] -> action`` (for role views)."""
    return BestResponsePolicy(instance, tie_break)


def principal_env(render_mode: str | None = None, **kwargs: Any):
    """The principal's problem against the best-responding agent, as a Gymnasium env (one step = one round)."""
    from contract_envs.views import PrincipalGymEnv

    policy = best_response_policy(kwargs.get("instance", "ipa_k5"), kwargs.get("tie_break"))
    return PrincipalGymEnv(ENV_ID, {"agent_0": policy}, render_mode=render_mode, **kwargs)
