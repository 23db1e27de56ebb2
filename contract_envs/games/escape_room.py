"""
# Escape Room

This environment is part of the *incentive-design* environments of contract-envs: a designer
(`principal_0`) pays self-interested agents incentives that depend on what they do, to steer them
to a cooperative outcome. Please read the contract layer's page (`contract_envs.contracts`) for
the ledger and the money accounting.

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/escape_room-v0")` |
| Actions | Mixed: designer Continuous (Box), agents Discrete (peer variant: Dict) |
| Parallel API | Yes (AEC via `contract_envs.make("aec", ...)`) |
| Manual Control | No |
| Agents | `['principal_0', 'agent_0', ..., 'agent_{N-1}']` (`incentives="peer"`/`"none"`: agents only) |
| Agents | `N + 1` (default 6) |
| Action Shape | designer `(3,)` (`per_agent`: `(N, 3)`), agent `()` |
| Action Values | designer `[0, incentive_cap]`, agent `{0, 1, 2}` |
| Observation Shape | designer `(6N,)`, agent `(3N,)` (`peer`: `(3N + N - 1,)`) |
| Observation Values | one-hot positions and actions in `{0, 1}`; gifts in `[0, incentive_cap * max_cycles]` |
| State Shape | `(6N,)` (`peer`: `(6N + N*N,)`) |

ER(N, M), the didactic benchmark of adaptive incentive design (Yang et al., AAMAS 2022, "paper A",
`env/escape_room.py`) and of learning to incentivise (LIO, Yang et al., NeurIPS 2020,
`lio/env/room_symmetric.py`). `N` agents start at the *start*; a door opens only if at least `M`
agents pull the lever in the same step, and pulling it keeps them from the door: the social
optimum needs some agents to sacrifice for the others.

### Rules
Positions 0 = lever, 1 = start, 2 = door; action `a` = the position to go to, reached in one step.
The door is open in a step iff at least `M = min_at_lever` agents choose action 0 in that step.
Agent reward: `+door_reward` (10) if the door is open and `a_i = 2`; otherwise 0 if `a_i` equals
its current position (staying); otherwise `-move_cost` (-1). The episode *terminates* when the door
is open and some agent is now at the door, and is *truncated* after `max_cycles` steps (5).

### Incentive-design timing
One Parallel step per round (`ContractGame.simultaneous = True`). The designer's action is a
payment schedule over the agents' actions, chosen at the same time as the agents act and settled
right after they act: each agent is paid the entry of the action it took. Agents never observe
the schedule (as in A). `incentives` selects the designer:
* `"per_action"` (default; A's `output_type='action'`): 3 amounts (lever, start, door), the same
  for every agent. Designer action `Box(0, incentive_cap, (3,))`.
* `"per_agent"` (A's `output_type='agent'`): one schedule per agent, `Box(0, cap, (N, 3))`.
* `"peer"` (LIO): no designer; each agent's action is
  `{"action": Discrete(3), "incentives": Box(0, cap, (N-1, 3))}`: row `k` is what it pays the
  `k`-th other agent (others in increasing id order) for each action that agent takes. Gifts are
  transfers through the contract layer (ledger keys `transfer_in`, `transfer_out`); each agent's
  observation ends with the cumulative amounts it has *given* to each other agent this episode
  (LIO's `room_agent.py` observes `total_given`).
* `"none"`: no incentives, agents only.

### Observation Space
Agent `i`: one-hot of its own position (3), one-hot positions of the other agents in id order
(`3(N-1)`), and in `peer` mode the cumulative gifts given to each other agent (`N-1`); float32.
Designer: one-hot positions of all agents (`3N`) and one-hot of the previous joint action (`3N`,
zeros at the start of an episode); float32.

### Rewards
Agent: environment reward + incentives received (- gifts given, + gifts received in `peer`).
Designer: social welfare (sum of the agents' environment rewards) minus `incentive_cost` (alpha,
default 1) times the incentives paid: with alpha = 1 this is A's evaluation metric `r_id` (the
suite's `designer_return(alpha)`). The ledger always records the money actually paid (designer
`utility` = welfare - payment); `welfare` does not count the designer's reward a second time
(`principal_in_welfare = False`).

### Infos
Ledger keys of the contract layer plus, for every player, `door_open` (this step) and, for each
agent, `went_to_lever` / `went_to_door` (this step, 0 or 1; A's per-episode lever and door counts
are their sums over an episode).

### Exact answers (`contract_envs.solvers.escape_room_*`)
Maximum welfare `10(N-M) - M` (9 / 8 / 28 for (2,1) / (3,2) / (5,2)); without incentives the only
pure equilibrium from the start is everyone staying; a lever incentive `tau` (start and door paid
0) makes the optimum an equilibrium iff `tau > 1`; the designer's best net return tends to
`10(N-M) - 2M` (8 / 6 / 26).

### Deviations from the sources
* A's incentive function is an MLP of (state, joint action); here the designer commits to a
  schedule over each agent's *own* action type for the step (a function of the state through the
  designer's policy). This covers every incentive the exact answers use. Likewise LIO's gift to
  agent `j` may depend on all other agents' actions; here it is a schedule over `j`'s own action
  (identical for LIO's default N = 2).
* A's `per_agent` output pays agent `i` a function of the joint action; here it is a schedule per
  agent over its own action, so a per-agent payment can still reward a choice.
* A's L1 cost on all sigmoid outputs (paid or not) is a training loss, not part of the
  environment; the environment charges the designer exactly what it pays.
* `randomize_start` (False in A and LIO) is not offered.

### Arguments
```python
contract_envs.make("parallel", "contract_envs/escape_room-v0", n_agents=5, min_at_lever=2,
                   max_cycles=5, incentives="per_action", incentive_cap=2.0,
                   door_reward=10.0, move_cost=1.0, incentive_cost=1.0, render_mode=None)
```
`n_agents` N >= 1; `min_at_lever` M in `[1, N]`; `max_cycles` steps per episode; `incentives` one
of `"per_action"`, `"per_agent"`, `"peer"`, `"none"`; `incentive_cap` largest amount per entry
(A's `r_multiplier` 2.0); `door_reward`, `move_cost` (10, 1); `incentive_cost` alpha >= 0 in the
designer's reward.

### Version History
* v0: Initial release.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from contract_envs.contracts import Settlement
from contract_envs.core import ContractGame, Transition
from contract_envs.envs._incentive_common import (
    EpisodeLengthParallelEnv,
    IncentiveCostMixin,
    check_incentive_cost,
    incentive_terms,
    others_index,
)
from contract_envs.pettingzoo_api import aec_from_parallel

LEVER, START, DOOR = 0, 1, 2
POSITION_NAMES = ("lever", "start", "door")
_ONE_HOT = np.vstack([np.eye(3), np.zeros(3)]).astype(np.float32)


class EscapeRoomGame(IncentiveCostMixin, ContractGame):
    """Batched Escape Room ER(N, M) with a designer, peer incentives, or no incentives."""

    name = "escape_room"
    simultaneous = True
    principal_in_welfare = False

    def __init__(
        self, num_envs: int = 1, n_agents: int = 5, min_at_lever: int = 2, max_cycles: int = 5,
        incentives: str = "per_action", incentive_cap: float = 2.0, door_reward: float = 10.0,
        move_cost: float = 1.0, incentive_cost: float = 1.0, seed: int | None = None,
    ) -> None:
        if int(n_agents) < 1:
            raise ValueError(f"n_agents must be >= 1, got {n_agents}")
        if not (1 <= int(min_at_lever) <= int(n_agents)):
            raise ValueError(f"min_at_lever must lie in [1, n_agents={n_agents}], got {min_at_lever}")
        if max_cycles is None or int(max_cycles) < 1:
            raise ValueError(f"max_cycles (steps per episode) must be >= 1, got {max_cycles}")
        n = int(n_agents)
        terms, self.peer_terms = incentive_terms(incentives, n, 3, incentive_cap)
        super().__init__(num_envs, n, 3, terms, int(max_cycles), seed)
        self.mode, self.min_at_lever = incentives, int(min_at_lever)
        self.door_reward, self.move_cost = float(door_reward), float(move_cost)
        self.incentive_cost = check_incentive_cost(incentive_cost)
        peer = self.peer_terms is not None
        self._order = np.concatenate([np.arange(n)[:, None], others_index(n)], axis=1)  # [N, N]: self, then others
        self._others = others_index(n)
        gift_high = float(incentive_cap) * int(max_cycles)
        high = np.concatenate([np.ones(3 * n), np.full(n - 1 if peer else 0, gift_high)]).astype(np.float32)
        self.agent_observation_space = spaces.Box(np.zeros_like(high), high, dtype=np.float32)
        self.principal_observation_space = spaces.Box(0.0, 1.0, (6 * n,), dtype=np.float32)
        state_high = np.concatenate([np.ones(6 * n), np.full(n * n if peer else 0, gift_high)]).astype(np.float32)
        self.state_space = spaces.Box(np.zeros_like(state_high), state_high, dtype=np.float32)
        self.pos = np.full((self.num_envs, n), START, dtype=np.int64)
        self.last_action = np.full((self.num_envs, n), -1, dtype=np.int64)
        self.door_open = np.zeros(self.num_envs, dtype=bool)
        self.given = np.zeros((self.num_envs, n, n))  # cumulative gifts payer -> payee this episode

    def _reset(self, env_idx: np.ndarray) -> None:
        self.pos[env_idx] = START
        self.last_action[env_idx] = -1
        self.door_open[env_idx] = False
        self.given[env_idx] = 0.0

    def _step(self, actions: np.ndarray) -> Transition:
        door_open = (actions == LEVER).sum(axis=1) >= self.min_at_lever
        stayed = actions == self.pos
        reward = np.where(stayed, 0.0, -self.move_cost)
        reward = np.where(door_open[:, None] & (actions == DOOR), self.door_reward, reward)
        self.pos = actions.copy()
        self.last_action = actions.copy()
        self.door_open = door_open
        terminated = door_open & (self.pos == DOOR).any(axis=1)
        return Transition(reward, reward.sum(axis=1), actions.copy(), terminated)

    def on_settled(self, settlement: Settlement) -> None:
        if self.peer_terms is not None:
            n = self.n_agents
            self.given += settlement.transfers[:, :n, :n]

    # ----------------------------------------------------------------- observations
    def _one_hot(self, idx: np.ndarray) -> np.ndarray:
        return np.take(_ONE_HOT, idx, axis=0)  # index -1 (no action yet) -> the all-zero last row

    def agent_observation(self, contracts: np.ndarray | None) -> np.ndarray:
        n = self.n_agents
        positions = self._one_hot(self.pos[:, self._order]).reshape(self.num_envs, n, 3 * n)
        if self.peer_terms is None:
            return positions
        gifts = np.take_along_axis(self.given, self._others[None], axis=2).astype(np.float32)
        return np.concatenate([positions, gifts], axis=2)

    def principal_observation(self) -> np.ndarray:
        return self._one_hot(np.concatenate([self.pos, self.last_action], axis=1)).reshape(self.num_envs, -1)

    def state(self, contracts: np.ndarray | None) -> np.ndarray:
        obs = self.principal_observation()
        if self.peer_terms is None:
            return obs
        return np.concatenate([obs, self.given.reshape(self.num_envs, -1).astype(np.float32)], axis=1)

    def extra_infos(self) -> dict[str, dict[str, np.ndarray]]:
        door = self.door_open.astype(np.float64)
        infos = {
            f"agent_{i}": {
                "door_open": door,
                "went_to_lever": (self.last_action[:, i] == LEVER).astype(np.float64),
                "went_to_door": (self.last_action[:, i] == DOOR).astype(np.float64),
            }
            for i in range(self.n_agents)
        }
        if self.has_principal:
            infos["principal_0"] = {"door_open": door}
        return infos

    def render_ansi(self, env_index: int) -> str:
        b = env_index
        where = ", ".join(f"agent_{i}@{POSITION_NAMES[p]}" for i, p in enumerate(self.pos[b]))
        door = "open" if self.door_open[b] else "shut"
        return f"escape_room ER({self.n_agents},{self.min_at_lever}): step {int(self.t[b])}, door {door} | {where}"


class parallel_env(EpisodeLengthParallelEnv):  # noqa: N801  (PettingZoo naming convention)
    """PettingZoo ParallelEnv of Escape Room (see the module docstring)."""

    metadata = {"name": "escape_room_v0", "render_modes": ["ansi", "human"], "is_parallelizable": True,
                "render_fps": 2}
    default_max_cycles = 5

    @classmethod
    def make_game(
        cls, num_envs: int, n_agents: int = 5, min_at_lever: int = 2, max_cycles: int = 5,
        incentives: str = "per_action", incentive_cap: float = 2.0, door_reward: float = 10.0,
        move_cost: float = 1.0, incentive_cost: float = 1.0, seed: int | None = None,
    ) -> EscapeRoomGame:
        return EscapeRoomGame(num_envs, n_agents, min_at_lever, max_cycles, incentives, incentive_cap,
                              door_reward, move_cost, incentive_cost=incentive_cost, seed=seed)


env = aec_from_parallel(parallel_env)
raw_env = env
