"""
# Escape Room

This environment is part of the *incentive-design* environments of contract-envs: a designer
(`principal_0`) pays self-interested agents incentives that depend on what they do, to steer them
to a cooperative outcome. Please read [Concepts](../concepts.md) for the
round structure, the ledger and the money accounting.

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/escape_room-v1")` |
| Actions | Mixed: designer Continuous (Box), agents Discrete (peer variant: Dict) |
| Parallel API | Yes |
| AEC API | native: designer first, then each agent; schedule held until the last agent moves (agents never see it) |
| Manual Control | No |
| Agents | `['principal_0', 'agent_0', ..., 'agent_{N-1}']` (`incentives="peer"`/`"none"`: agents only) |
| Agents | `N + 1` (default 6) |
| Action Shape | designer `(3,)` (`per_agent`: `(N, 3)`), agent `()` |
| Action Values | designer `[0, incentive_cap]`, agent `{0, 1, 2}` |
| Observation Shape | designer `(6N,)`, agent `(3N,)` (`peer`: `(3N + N - 1,)`) |
| Observation Values | one-hot positions and actions in `{0, 1}`; gifts in `[0, incentive_cap * horizon]` |
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
is open and some agent is now at the door, and is *truncated* after `horizon` rounds (5).

### Incentive-design timing
One Parallel step per round (`timing = SIMULTANEOUS`). The designer's action is a
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

### Outcomes and infos
An agent's outcome, on which the designer's schedule and peer gifts are settled, is the action it
took (0 lever, 1 start, 2 door). Realised outcomes are in `infos[agent]["outcome"]` and
`infos["principal_0"]["outcomes"]` (one per agent; -1 before the first round of an episode). The
designer observes outcomes through its observation: the previous joint action (as in A); agents
observe only positions (which equal their previous actions after the first round).

Infos hold the ledger keys of the contract layer plus, for every player, `door_open` (this step)
and, for each agent, `went_to_lever` / `went_to_door` (this step, 0 or 1; A's per-episode lever
and door counts are their sums over an episode), and `acting`.

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
contract_envs.make("parallel", "contract_envs/escape_room-v1", n_agents=5, min_at_lever=2,
                   horizon=5, incentives="per_action", incentive_cap=2.0,
                   door_reward=10.0, move_cost=1.0, incentive_cost=1.0, render_mode=None)
```
`n_agents` N, an integer >= 1; `min_at_lever` M, an integer in `[1, N]`; `horizon` rounds per
episode, an integer >= 1; `incentives` one of `"per_action"`, `"per_agent"`, `"peer"`, `"none"`;
`incentive_cap` largest amount per entry, finite and > 0 (A's `r_multiplier` 2.0); `door_reward`
(10) a finite real; `move_cost` (1) finite and >= 0; `incentive_cost` alpha, finite and >= 0, in
the designer's reward. A bad value raises `ValueError` naming the argument and its allowed range.
The PettingZoo adapters' own `max_cycles` (Parallel: `step` calls; AEC: rounds) can end an
episode earlier; the batched API (`contract_envs.vector.make`) takes the same keywords.

### Version History
* v1: `horizon` (rounds) replaces `max_cycles` as the episode-length keyword (`max_cycles` is now
  only the PettingZoo adapters' limit); native AEC turn order (designer, then each agent, the
  schedule held until the last agent has moved; a bad move raises at the turn that made it)
  instead of PettingZoo's `parallel_to_aec`; realised outcomes in infos (`outcome`, `outcomes`);
  stricter argument validation (integral `n_agents`, `min_at_lever`, `horizon`; finite
  `door_reward`; finite `move_cost` >= 0). Spaces and dynamics unchanged.
* v0: Initial release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

import contract_envs.games._draw as _draw
from contract_envs.checks import check_int, check_real
from contract_envs.contracts import Settlement
from contract_envs.core.game import SIMULTANEOUS, Game, GameState, Transition
from contract_envs.games._incentive_common import designer_rewards, incentive_terms, others_index
from contract_envs.rng import BatchedStreams

# the exact reference of this game, for its documentation page (where the optimum is and how to compute it)
EXACT_OPTIMUM = (
    "Yes: `escape_room_max_welfare` (10(N-M) - M), `escape_room_pure_equilibria`, "
    "`escape_room_min_lever_incentive` (a lever incentive above 1 sustains the optimum), "
    "`escape_room_best_designer_return`"
)

LEVER, START, DOOR = 0, 1, 2
POSITION_NAMES = ("lever", "start", "door")
_ONE_HOT = np.vstack([np.eye(3), np.zeros(3)]).astype(np.float32)


@dataclass
class EscapeRoomState(GameState):
    """``pos [B, N]``: each agent's position; ``last_action [B, N]``: the previous joint action (-1 at
    the start); ``door_open [B]``: whether the door opened this round; ``given [B, N, N]``: cumulative
    peer gifts payer -> payee this episode; ``last_offers [B, N, 3]``: the designer's schedule of the last
    round (renders; ``None`` without a designer)."""

    pos: np.ndarray
    last_action: np.ndarray
    door_open: np.ndarray
    given: np.ndarray
    last_offers: np.ndarray | None = None  # [B, N, 3]: the designer's schedule of the last round (renders)


class EscapeRoomGame(Game):
    """Batched Escape Room ER(N, M) with a designer, peer incentives, or no incentives."""

    name = "escape_room"
    timing = SIMULTANEOUS
    principal_in_welfare = False
    render_modes = ("ansi", "human", "rgb_array")

    def __init__(
        self,
        num_envs: int = 1,
        n_agents: int = 5,
        min_at_lever: int = 2,
        horizon: int = 5,
        incentives: str = "per_action",
        incentive_cap: float = 2.0,
        door_reward: float = 10.0,
        move_cost: float = 1.0,
        incentive_cost: float = 1.0,
    ) -> None:
        owner = self.name
        n = check_int("n_agents", n_agents, 1, owner=owner)
        self.min_at_lever = check_int("min_at_lever", min_at_lever, 1, n, owner=owner)
        horizon = check_int("horizon (rounds per episode)", horizon, 1, owner=owner)
        self.door_reward = check_real("door_reward", door_reward, owner=owner)
        self.move_cost = check_real("move_cost", move_cost, 0.0, owner=owner)
        self.incentive_cost = check_real("incentive_cost", incentive_cost, 0.0, owner=owner)
        terms, peer = incentive_terms(owner, incentives, n, 3, incentive_cap)
        super().__init__(num_envs, n, 3, terms, horizon, peer_terms=peer)
        self.mode = incentives
        self._order = np.concatenate([np.arange(n)[:, None], others_index(n)], axis=1)  # [N, N]: self, then others
        self._others = others_index(n)
        gift_high = peer.payment_cap * horizon if peer is not None else 0.0
        high = np.concatenate([np.ones(3 * n), np.full(n - 1 if peer else 0, gift_high)]).astype(np.float32)
        self.agent_observation_space = spaces.Box(np.zeros_like(high), high, dtype=np.float32)
        self.principal_observation_space = spaces.Box(0.0, 1.0, (6 * n,), dtype=np.float32)
        state_high = np.concatenate([np.ones(6 * n), np.full(n * n if peer else 0, gift_high)]).astype(np.float32)
        self.state_space = spaces.Box(np.zeros_like(state_high), state_high, dtype=np.float32)

    # ----------------------------------------------------------------- dynamics
    def init_state(self) -> EscapeRoomState:
        b, n = self.num_envs, self.n_agents
        return EscapeRoomState(
            t=np.zeros(b, dtype=np.int64),
            pos=np.full((b, n), START, dtype=np.int64),
            last_action=np.full((b, n), -1, dtype=np.int64),
            door_open=np.zeros(b, dtype=bool),
            given=np.zeros((b, n, n)),
            last_offers=np.zeros((b, n, 3)) if self.has_principal else None,
        )

    def reset(self, state: EscapeRoomState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        state.pos[env_idx] = START
        state.last_action[env_idx] = -1
        state.door_open[env_idx] = False
        state.given[env_idx] = 0.0

    def step(
        self, state: EscapeRoomState, actions: np.ndarray, principal_action: np.ndarray | None, rng: BatchedStreams
    ) -> Transition:
        door_open = (actions == LEVER).sum(axis=1) >= self.min_at_lever
        stayed = actions == state.pos
        reward = np.where(stayed, 0.0, -self.move_cost)
        reward = np.where(door_open[:, None] & (actions == DOOR), self.door_reward, reward)
        state.pos = actions.copy()
        state.last_action = actions.copy()
        state.door_open = door_open
        if principal_action is not None:
            state.last_offers = principal_action
        terminated = door_open & (state.pos == DOOR).any(axis=1)
        return Transition(reward, reward.sum(axis=1), actions.copy(), terminated)

    def on_settlement(self, state: EscapeRoomState, settlement: Settlement) -> tuple[np.ndarray, np.ndarray]:
        if self.peer_terms is not None:
            n = self.n_agents
            state.given = state.given + settlement.transfers[:, :n, :n]
        return designer_rewards(settlement, self.incentive_cost)

    # ----------------------------------------------------------------- observations
    @staticmethod
    def _one_hot(idx: np.ndarray) -> np.ndarray:
        return np.take(_ONE_HOT, idx, axis=0)  # index -1 (no action yet) -> the all-zero last row

    def observe_agents(self, state: EscapeRoomState, offers: np.ndarray | None) -> np.ndarray:
        n, b = self.n_agents, len(state.t)
        positions = self._one_hot(state.pos[:, self._order]).reshape(b, n, 3 * n)
        if self.peer_terms is None:
            return positions
        gifts = np.take_along_axis(state.given, self._others[None], axis=2).astype(np.float32)
        return np.concatenate([positions, gifts], axis=2)

    def observe_principal(self, state: EscapeRoomState) -> np.ndarray:
        return self._one_hot(np.concatenate([state.pos, state.last_action], axis=1)).reshape(len(state.t), -1)

    def global_state(self, state: EscapeRoomState, offers: np.ndarray | None) -> np.ndarray:
        obs = self._one_hot(np.concatenate([state.pos, state.last_action], axis=1)).reshape(len(state.t), -1)
        if self.peer_terms is None:
            return obs
        return np.concatenate([obs, state.given.reshape(len(state.t), -1).astype(np.float32)], axis=1)

    def infos(self, state: EscapeRoomState) -> dict[str, dict[str, np.ndarray]]:
        door = state.door_open.astype(np.float64)
        infos = {
            f"agent_{i}": {
                "door_open": door,
                "went_to_lever": (state.last_action[:, i] == LEVER).astype(np.float64),
                "went_to_door": (state.last_action[:, i] == DOOR).astype(np.float64),
            }
            for i in range(self.n_agents)
        }
        if self.has_principal:
            infos["principal_0"] = {"door_open": door}
        return infos

    def render_ansi(self, state: EscapeRoomState, env_index: int, offers: np.ndarray | None = None) -> str:
        b = env_index
        where = ", ".join(f"agent_{i}@{POSITION_NAMES[p]}" for i, p in enumerate(state.pos[b]))
        door = "open" if state.door_open[b] else "shut"
        return f"escape_room ER({self.n_agents},{self.min_at_lever}): step {int(state.t[b])}, door {door} | {where}"

    def render_rgb(self, state: EscapeRoomState, env_index: int, offers: np.ndarray | None = None) -> np.ndarray:
        """RGB frame uint8: the three places (lever, start, door) with the agents where they stand, the door
        open or shut, the designer's schedule of the last round and what each agent was paid."""
        b, n = env_index, self.n_agents
        zone_w, gap, left = 130, 14, 12
        per_zone_rows = (n + 1) // 2
        zone_h = max(70, 26 + per_zone_rows * 46)
        rows = (1 if self.mode == "per_action" else n) if self.has_principal else 0
        width = left + 3 * zone_w + 2 * gap + 12
        height = 44 + zone_h + 20 + rows * (2 * _draw.GLYPH_HEIGHT + 12) + (20 if self.has_principal else 0) + 8
        if self.peer_terms is not None:
            height += 16 * (n + 1)
        canvas = _draw.Canvas(height, width)
        played = bool(state.t[b] > 0)
        door = "OPEN" if state.door_open[b] else "shut"
        title = f"Escape Room ER({n},{self.min_at_lever})  round {int(state.t[b])}/{self.horizon}"
        canvas.text(4, left, title, bold=True)
        canvas.text(20, left, f"door {door}: it opens when >= {self.min_at_lever} agents pull the lever", _draw.MUTED)
        top = 40
        for z, name in enumerate(POSITION_NAMES):
            x0 = left + z * (zone_w + gap)
            canvas.rect(top, x0, top + zone_h, x0 + zone_w, _draw.PANEL)
            canvas.outline(top, x0, top + zone_h, x0 + zone_w, _draw.FAINT)
            canvas.text(top + 4, x0 + zone_w / 2, name, _draw.MUTED, bold=True, align="center")
            if z == DOOR:
                colour = _draw.MONEY if state.door_open[b] else (150, 95, 45)
                canvas.rect(top + 4, x0 + zone_w - 16, top + zone_h - 4, x0 + zone_w - 6, colour)
                if state.door_open[b]:
                    canvas.rect(top + 8, x0 + zone_w - 14, top + zone_h - 8, x0 + zone_w - 8, _draw.PAPER)
            here = np.flatnonzero(state.pos[b] == z)
            for k, i in enumerate(here):
                cy = top + 38 + (k // 2) * 46
                cx = x0 + 32 + (k % 2) * 56
                canvas.disc(cy, cx, 12, _draw.colour_of(i))
                canvas.text(cy - 6, cx, str(i), (255, 255, 255), bold=True, align="center")
                if played and self.has_principal:
                    paid = float(state.last_offers[b, i, z])
                    if paid > 0:
                        canvas.text(cy + 13, cx, "+" + _draw.fmt(paid), _draw.MONEY, align="center")
        y = top + zone_h + 8
        if self.has_principal:
            what = "designer's schedule, last round" if played else "designer's schedule (none yet)"
            canvas.text(y, left, f"{what}: pays an agent for where it moved", _draw.INK)
            y += 16
            for r in range(rows):
                label = "every agent" if self.mode == "per_action" else f"agent_{r}"
                canvas.text(y + 9, left, label, _draw.MUTED)
                amounts = state.last_offers[b, r] if played else None
                taken = int(state.last_action[b, r]) if played and self.mode == "per_agent" else None
                canvas.contract_row(y, left + 90, list(POSITION_NAMES), amounts, taken, box_width=56)
                y += 2 * _draw.GLYPH_HEIGHT + 12
        if self.peer_terms is not None:
            canvas.text(y, left, "peer gifts this episode (given / received)", _draw.INK)
            for i in range(n):
                given, got = state.given[b, i].sum(), state.given[b, :, i].sum()
                canvas.text(y + 16 * (i + 1), left, f"agent_{i}: {_draw.fmt(given)} / {_draw.fmt(got)}", _draw.MONEY)
        return canvas.pixels


# The registry's entry: the game for ``num_envs`` environments (arguments in the module docstring).
make_game = EscapeRoomGame
