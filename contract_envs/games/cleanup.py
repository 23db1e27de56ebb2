"""
# Cleanup (with an incentive designer)

This environment is part of the *incentive-design* environments of contract-envs (see
[Escape Room](escape_room.md) for the timing and [Concepts](../concepts.md) for the ledger).

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/cleanup-v1")` |
| Actions | Mixed: designer Continuous (Box), agents Discrete |
| Parallel API | Yes |
| AEC API | native: designer first, then each agent; schedule held until the last agent moves (agents never see it) |
| Manual Control | No |
| Agents | `['principal_0', 'agent_0', 'agent_1']` (10x10 map: 3 agents) |
| Agents | 3 (4 on the 10x10 map) |
| Action Shape | designer `(3,)` (`per_agent`: `(N, 3)`), agent `()` |
| Action Values | designer `[0, incentive_cap]`, agent `{0, ..., 5}` |
| Observation Shape | agent `(2v+1, 2v+1, 3)` (9x9x3 on 7x7, 15x15x3 on 10x10); designer `(H*W*3 + N,)` |
| Observation Values | RGB / 256 in `[0, 1)`; designer's last `N` entries in `{0, 1}` |
| State Shape | `(H, W, 3)` |

The Cleanup sequential social dilemma (Hughes et al. 2018; implementation of
`eugenevinitsky/sequential_social_dilemma_games`, in the configurable fork used by LIO and by
adaptive incentive design, Yang et al. AAMAS 2022, `env/ssd.py`). Apples grow only while the
river is clean, and cleaning earns nothing: selfish agents harvest and let the waste pile up. A
designer pays incentives per action type to bring about a cleaner/harvester division of labour.

### Maps
`map_name="7x7"` (A's and LIO's `cleanup_small_sym`, default: 2 agents, view 4, apple 0.5,
depletion 0.6, restoration 0.0, waste 0.5) and `"10x10"` (LIO's `cleanup_10x10_sym`: 3 agents,
view 7, apple 0.3, depletion 0.4, restoration 0.0, waste 0.5):
```
@@@@@@@        @@@@@@@@@@
@H  PB@        @HH   P B@
@H   B@        @RR    BB@
@    B@        @HH     B@
@    B@        @RR    BB@
@ P  B@        @HH P   B@
@@@@@@@        @RR    BB@
               @HH     B@
               @RRP   BB@
               @@@@@@@@@@
```
`@` wall, `H` waste at the start, `R` clean river, `B` apple spawn point, `P` player spawn point.
Agent `i` starts on the `i`-th spawn point counted from the end in reading order (SSD's
`spawn_point` picks the last free one): on 7x7 agent 0 starts at (5, 2) on the river side and
agent 1 at (1, 4) on the apple side.

### Rules (one step)
1. Moves: actions 0 left, 1 right, 2 up, 3 down, 4 no-op, 5 clean (LIO's 6-action space without
   rotation and without the penalty beam; agents always face up). A move into a wall fails; if
   several agents want the same cell, a random one (per-env stream) gets it and the others stay;
   an agent cannot enter a cell whose occupant stays, and two agents cannot swap cells. An agent
   entering an apple eats it: reward +1.
2. Cleaning: an agent choosing `clean` fires a beam of width 3 and length 5 upwards: the centre
   beam covers the 5 cells above it, the two side beams start beside it and cover 5 cells each
   (SSD's beam that "starts in front travels one cell further than the sides"). Each beam stops at
   a wall, at an agent, or at the first waste cell, which it turns into clean river. Agents fire
   in id order. `cleaning_penalty` (0) is charged per clean action.
3. Spawning, with the waste density `d = #waste / #(H + R cells)` after cleaning: if
   `d >= depletion`, nothing spawns. Otherwise one waste cell may appear: with probability
   `1 - (1 - waste_spawn)^k` over the `k` clean river cells, on one of them chosen uniformly (the
   distribution of SSD's shuffled scan that stops at its first success); and each empty apple
   point without an agent grows an apple independently with probability
   `apple_respawn * (1 - (d - restoration) / (depletion - restoration))` (the full
   `apple_respawn` when `d <= restoration`).
The same spawning runs once at reset (as in SSD; on both maps the start is depleted, so nothing
spawns). Episodes last `horizon` = 50 rounds (truncation).

### Incentive-design timing
One Parallel step per round (`timing = SIMULTANEOUS`): the designer's schedule is chosen with
the agents' actions and settled right after over three action types (A's `obs_cleaned_1hot`
designer): 0 = cleaned (chose `clean`), 1 = collected an apple (environment reward > 0), 2 =
other. `incentives="per_action"` (default): one amount per type for every agent; `"per_agent"`:
`(N, 3)`; `"none"`: no designer. These types are each agent's realised outcome, in
`infos[agent]["outcome"]` and `infos["principal_0"]["outcomes"]` (-1 before the first round of an
episode). The designer observes them only in part: its observation ends with the "cleaned" bit of
each agent for the previous round (A's "used cleaning beam" bits); whether an agent collected an
apple shows only through the map image.

### Observation Space
Agent: an egocentric `(2v+1) x (2v+1)` RGB window centred on the agent (no rotation), divided by
256 (A's `process_obs`), float32; cells outside the map are black. Colours follow SSD: wall
(180,180,180), waste (113,75,24), river (99,156,194), apple (0,255,0), this step's cleaning beam
(100,255,255), agents `1..5` purple, blue, magenta, red, orange (agent `i` has colour `i+1`).
Designer: a flat vector, the whole map as an RGB image / 256 (`obs[:H*W*3].reshape(H, W, 3)`)
followed by, per agent, whether it chose `clean` in the previous step (A's designer observes the
planner image and the "used cleaning beam" bits). A flat Box rather than a Dict because
PettingZoo's `api_test` compares observation shapes across players.

### Rewards
Agent: apples eaten (- cleaning penalty) + incentive received. Designer: social welfare (sum of
the agents' environment rewards) minus `incentive_cost` (alpha, default 1) times the incentives
paid; A's Cleanup designer has no cost term: `incentive_cost=0` gives its objective. The ledger
records the money paid. `principal_in_welfare = False`.

### Infos
Agents: `apples`, `cleaned` (waste cells cleaned this step; A logs "waste cleared"), `outcome`.
Every player: `waste_density`, `apple_count` (after this step's spawning), `acting`; the designer:
`outcomes`.

### Deviations from the sources
* Move conflicts: SSD resolves them by a random shuffle and lets an agent follow another into a
  vacated cell; here the same, but two agents never swap cells (SSD's resolution of swaps is
  order-dependent).
* The waste spawn draws "whether" and "where" directly with the distribution of SSD's shuffled
  scan (fixed number of random draws per step, so batched and single environments agree).
* The designer sees the whole map, not a 9x9 window around the reference point [3, 3] (the same
  cells plus a border on 7x7).
* The designer's incentive per type is committed for the step (a schedule) rather than an MLP of
  the image and the joint action.

### Arguments
```python
contract_envs.make("parallel", "contract_envs/cleanup-v1", map_name="7x7", n_agents=None,
                   horizon=50, incentives="per_action", incentive_cap=2.0, view_size=None,
                   apple_respawn_prob=None, waste_spawn_prob=None, depletion_threshold=None,
                   restoration_threshold=None, cleaning_penalty=0.0, incentive_cost=1.0,
                   render_mode=None)
```
`None` picks the map's values above. `map_name` one of `"7x7"`, `"10x10"`; `n_agents` an integer
in `[1, spawn points]` (2 / 3); `horizon` rounds per episode, an integer >= 1; `incentives` one
of `"per_action"`, `"per_agent"`, `"none"`; `incentive_cap` finite and > 0; `view_size` an
integer >= 1; `apple_respawn_prob`, `waste_spawn_prob` in `[0, 1]`; `0 <= restoration_threshold <
depletion_threshold <= 1`; `cleaning_penalty` finite and >= 0; `incentive_cost` finite and >= 0.
A bad value raises `ValueError` naming the argument and its allowed range. The PettingZoo
adapters' own `max_cycles` (Parallel: `step` calls; AEC: rounds) can end an episode earlier.

### Version History
* v1: `horizon` (rounds) replaces `max_cycles` as the episode-length keyword (`max_cycles` is now
  only the PettingZoo adapters' limit); native AEC turn order (designer, then each agent, the
  schedule held until the last agent has moved; a bad move raises at the turn that made it)
  instead of PettingZoo's `parallel_to_aec`; realised outcomes in infos (`outcome`, `outcomes`);
  stricter argument validation (integral `n_agents`, `horizon`, `view_size`; finite
  probabilities and thresholds; finite `cleaning_penalty` >= 0). Spaces and dynamics (and random
  draws) unchanged.
* v0: Initial release.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.lib.stride_tricks import sliding_window_view

import contract_envs.games._draw as _draw
from contract_envs.checks import check_choice, check_int, check_real
from contract_envs.contracts import Settlement
from contract_envs.core.game import SIMULTANEOUS, Game, GameState, Transition
from contract_envs.games._incentive_common import designer_rewards, incentive_terms
from contract_envs.rng import BatchedStreams

# the exact reference of this game, for its documentation page (where the optimum is and how to compute it)
EXACT_OPTIMUM = "None (statistical checks of the dynamics only)"

MAPS = {
    "7x7": (
        ["@@@@@@@",
         "@H  PB@",
         "@H   B@",
         "@    B@",
         "@    B@",
         "@ P  B@",
         "@@@@@@@"],
        dict(n_agents=2, view_size=4, apple_respawn_prob=0.5, depletion_threshold=0.6, restoration_threshold=0.0,
             waste_spawn_prob=0.5),
    ),
    "10x10": (
        ["@@@@@@@@@@",
         "@HH   P B@",
         "@RR    BB@",
         "@HH     B@",
         "@RR    BB@",
         "@HH P   B@",
         "@RR    BB@",
         "@HH     B@",
         "@RRP   BB@",
         "@@@@@@@@@@"],
        dict(n_agents=3, view_size=7, apple_respawn_prob=0.3, depletion_threshold=0.4, restoration_threshold=0.0,
             waste_spawn_prob=0.5),
    ),
}  # fmt: skip

EMPTY, WALL, WASTE, RIVER, APPLE = 0, 1, 2, 3, 4
LEFT, RIGHT, UP, DOWN, NOOP, CLEAN = range(6)
ACTION_NAMES = ("left", "right", "up", "down", "noop", "clean")
MOVES = np.array([[0, -1], [0, 1], [-1, 0], [1, 0], [0, 0], [0, 0]], dtype=np.int64)
CLEANED, COLLECTED, OTHER = 0, 1, 2
OUTCOME_NAMES = ("cleaned", "collected", "other")
ACTION_NAMES_PAST = ("cleaned", "collected", "moved, no apple")
CELL_PIXELS = 24  # rgb_array: pixels per map cell
CELL_COLOURS = np.array([[0, 0, 0], [180, 180, 180], [113, 75, 24], [99, 156, 194], [0, 255, 0]], dtype=np.float32)
BEAM_COLOUR = np.array([100, 255, 255], dtype=np.float32)
AGENT_COLOURS = np.array([[159, 67, 255], [2, 81, 154], [204, 0, 204], [216, 30, 54], [254, 151, 0]], dtype=np.float32)
CELL_CHARS = np.array([" ", "@", "H", "R", "A"])
_BEAM_CODE, _AGENT_CODE = 5, 6
_OUTSIDE_CODE = _AGENT_CODE + len(AGENT_COLOURS)
_PALETTE = np.vstack([CELL_COLOURS, BEAM_COLOUR, AGENT_COLOURS, np.zeros(3)]).astype(np.float32)
_PALETTE_OBS = _PALETTE / np.float32(256.0)
BEAM_LENGTH = 5
# (row, col) offsets of the three beams, facing up: the centre starts in front, the sides beside the agent
BEAMS = np.array(
    [
        [[-1 - s, 0] for s in range(BEAM_LENGTH)],
        [[-s, -1] for s in range(BEAM_LENGTH)],
        [[-s, 1] for s in range(BEAM_LENGTH)],
    ],
    dtype=np.int64,
)


@dataclass
class CleanupState(GameState):
    """``world [B, H, W]`` cell types; ``pos [B, N, 2]`` agents' (row, col); ``beam [B, H, W]`` cells
    covered by this round's cleaning beams; ``last_clean [B, N]`` who chose ``clean`` last round;
    ``last_apples``, ``last_cleaned [B, N]`` apples eaten and waste cells cleaned last round; ``last_offers
    [B, N, 3]`` the designer's schedule of the last round (renders; ``None`` without a designer)."""

    world: np.ndarray
    pos: np.ndarray
    beam: np.ndarray
    last_clean: np.ndarray
    last_apples: np.ndarray
    last_cleaned: np.ndarray
    last_offers: np.ndarray | None = None  # [B, N, 3]: the designer's schedule of the previous round (renders)


class CleanupGame(Game):
    """Batched Cleanup on a fixed map with an incentive designer."""

    name = "cleanup"
    timing = SIMULTANEOUS
    principal_in_welfare = False
    render_modes = ("ansi", "human", "rgb_array")
    render_fps = 5

    def __init__(
        self,
        num_envs: int = 1,
        map_name: str = "7x7",
        n_agents: int | None = None,
        horizon: int = 50,
        incentives: str = "per_action",
        incentive_cap: float = 2.0,
        view_size: int | None = None,
        apple_respawn_prob: float | None = None,
        waste_spawn_prob: float | None = None,
        depletion_threshold: float | None = None,
        restoration_threshold: float | None = None,
        cleaning_penalty: float = 0.0,
        incentive_cost: float = 1.0,
    ) -> None:
        owner = self.name
        check_choice("map_name", map_name, list(MAPS), owner=owner)
        rows, defaults = MAPS[map_name]
        ascii_map = np.array([list(r) for r in rows])
        spawns = [tuple(p) for p in np.argwhere(ascii_map == "P")][::-1]  # SSD takes the last free one first

        def pick(key: str, value: Any) -> Any:
            return defaults[key] if value is None else value

        n = check_int(f"n_agents (spawn points on map {map_name!r})", pick("n_agents", n_agents), 1, len(spawns), owner)
        horizon = check_int("horizon (rounds per episode)", horizon, 1, owner=owner)
        self.view = check_int("view_size", pick("view_size", view_size), 1, owner=owner)
        self.apple_prob = check_real(
            "apple_respawn_prob", pick("apple_respawn_prob", apple_respawn_prob), 0.0, 1.0, owner=owner
        )
        self.waste_prob = check_real(
            "waste_spawn_prob", pick("waste_spawn_prob", waste_spawn_prob), 0.0, 1.0, owner=owner
        )
        depletion = pick("depletion_threshold", depletion_threshold)
        self.depletion = check_real("depletion_threshold", depletion, 0.0, 1.0, low_open=True, owner=owner)
        self.restoration = check_real(
            "restoration_threshold (0 <= restoration_threshold < depletion_threshold)",
            pick("restoration_threshold", restoration_threshold),
            0.0,
            self.depletion,
            high_open=True,
            owner=owner,
        )
        self.cleaning_penalty = check_real("cleaning_penalty", cleaning_penalty, 0.0, owner=owner)
        self.incentive_cost = check_real("incentive_cost", incentive_cost, 0.0, owner=owner)
        terms, _ = incentive_terms(owner, incentives, n, 3, incentive_cap, allowed=("per_action", "per_agent", "none"))
        super().__init__(num_envs, n, 6, terms, horizon)
        self.map_name, self.mode = map_name, incentives
        self.height, self.width = ascii_map.shape
        base = np.full(ascii_map.shape, EMPTY, dtype=np.int8)
        base[ascii_map == "@"] = WALL
        base[ascii_map == "H"] = WASTE
        base[ascii_map == "R"] = RIVER
        self.base_map = base
        self.wall = ascii_map == "@"
        self.waste_points = np.argwhere((ascii_map == "H") | (ascii_map == "R"))  # reading order
        self.apple_points = np.argwhere(ascii_map == "B")
        self.spawn_points = np.array(spawns[:n], dtype=np.int64)
        side = 2 * self.view + 1
        self.agent_observation_space = spaces.Box(0.0, 255.0 / 256.0, (side, side, 3), dtype=np.float32)
        image = spaces.Box(0.0, 255.0 / 256.0, (self.height, self.width, 3), dtype=np.float32)
        high = np.concatenate([np.full(self.height * self.width * 3, 255.0 / 256.0), np.ones(n)]).astype(np.float32)
        self.principal_observation_space = spaces.Box(np.zeros_like(high), high, dtype=np.float32)
        self.state_space = image

    # ----------------------------------------------------------------- dynamics
    def init_state(self) -> CleanupState:
        b, n = self.num_envs, self.n_agents
        return CleanupState(
            t=np.zeros(b, dtype=np.int64),
            world=np.repeat(self.base_map[None], b, axis=0),
            pos=np.repeat(self.spawn_points[None], b, axis=0),
            beam=np.zeros((b, self.height, self.width), dtype=bool),
            last_clean=np.zeros((b, n), dtype=bool),
            last_apples=np.zeros((b, n)),
            last_cleaned=np.zeros((b, n)),
            last_offers=np.zeros((b, n, 3)) if self.has_principal else None,
        )

    def reset(self, state: CleanupState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        state.world[env_idx] = self.base_map
        state.pos[env_idx] = self.spawn_points
        state.beam[env_idx] = False
        state.last_clean[env_idx] = False
        state.last_apples[env_idx] = 0.0
        state.last_cleaned[env_idx] = 0.0
        self.spawn(state, np.asarray(env_idx), rng)

    def waste_density(self, state: CleanupState, env_idx: np.ndarray | None = None) -> np.ndarray:
        """Share of the river cells (``H`` and ``R``) holding waste ``[B]`` (or of ``env_idx``)."""
        world = state.world if env_idx is None else state.world[env_idx]
        wp = self.waste_points
        return (world[:, wp[:, 0], wp[:, 1]] == WASTE).sum(axis=1) / len(wp)

    def spawn_probabilities(self, density: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(apple probability per point, waste probability per clean river cell) at waste density ``d``."""
        span = self.depletion - self.restoration
        apple = self.apple_prob * np.clip(1.0 - (density - self.restoration) / span, 0.0, 1.0)
        depleted = density >= self.depletion
        apple = np.where(depleted, 0.0, apple)
        waste = np.where(depleted, 0.0, self.waste_prob)
        return apple, waste

    def spawn(self, state: CleanupState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        """SSD's spawning for ``env_idx``: draws ``len(apple_points) + 2`` numbers per env."""
        if len(env_idx) == 0:
            return
        u = rng.uniform(len(self.apple_points) + 2, env_idx)
        world = state.world[env_idx]  # copy (fancy index)
        apple_p, waste_p = self.spawn_probabilities(self.waste_density(state, env_idx))
        ap, wp = self.apple_points, self.waste_points
        occupied = np.zeros((len(env_idx), self.height, self.width), dtype=bool)
        occupied[np.arange(len(env_idx))[:, None], state.pos[env_idx, :, 0], state.pos[env_idx, :, 1]] = True
        cells = world[:, ap[:, 0], ap[:, 1]]
        grow = (u[:, : len(ap)] < apple_p[:, None]) & (cells == EMPTY) & ~occupied[:, ap[:, 0], ap[:, 1]]
        world[:, ap[:, 0], ap[:, 1]] = np.where(grow, APPLE, cells)
        free = world[:, wp[:, 0], wp[:, 1]] != WASTE  # [E, K] in reading order
        k = free.sum(axis=1)
        spawn = (k > 0) & (u[:, -2] < 1.0 - np.power(1.0 - waste_p, k))
        choice = np.minimum(np.floor(u[:, -1] * k).astype(np.int64), np.maximum(k - 1, 0))
        rank = np.cumsum(free, axis=1) - 1
        pick = free & (rank == choice[:, None]) & spawn[:, None]
        cells = world[:, wp[:, 0], wp[:, 1]]
        world[:, wp[:, 0], wp[:, 1]] = np.where(pick, WASTE, cells)
        state.world[env_idx] = world

    def _move(self, state: CleanupState, actions: np.ndarray, rng: BatchedStreams) -> None:
        b, n, pos = len(actions), self.n_agents, state.pos
        target = pos + MOVES[actions]
        target = np.where(self.wall[target[..., 0], target[..., 1]][..., None], pos, target)
        priority = rng.uniform(n)  # random winner of contested cells
        final = target.copy()
        for _ in range(n + 1):
            changed = np.zeros(b, dtype=bool)
            moving = np.any(final != pos, axis=2)  # [B, N]
            for i in range(n):
                for j in range(n):
                    if i == j:
                        continue
                    same = np.all(final[:, i] == final[:, j], axis=1)
                    swap = np.all(final[:, i] == pos[:, j], axis=1) & np.all(final[:, j] == pos[:, i], axis=1)
                    # i gives way if j stays there, or j ranks higher, or they would swap
                    loses = moving[:, i] & (
                        (same & (~moving[:, j] | (priority[:, j] > priority[:, i]))) | (swap & moving[:, j])
                    )
                    if loses.any():
                        final[loses, i] = pos[loses, i]
                        moving[:, i] &= ~loses
                        changed |= loses
            if not changed.any():
                break
        state.pos = final

    def _clean(self, state: CleanupState, actions: np.ndarray) -> np.ndarray:
        """Fire the cleaning beams of agents choosing clean, in id order; returns cells cleaned ``[B, N]``."""
        b, n = len(actions), self.n_agents
        cleaned = np.zeros((b, n))
        state.beam[:] = False
        steps = np.arange(BEAM_LENGTH)
        for i in range(n):
            envs = np.flatnonzero(actions[:, i] == CLEAN)
            if envs.size == 0:
                continue
            pos = state.pos[envs]  # [E, N, 2]
            cells = pos[:, i, None, None, :] + BEAMS  # [E, 3 beams, 5 cells, 2]
            r = np.clip(cells[..., 0], 0, self.height - 1)
            c = np.clip(cells[..., 1], 0, self.width - 1)
            wall = (r != cells[..., 0]) | (c != cells[..., 1]) | self.wall[r, c]
            rows = envs[:, None, None]
            waste = state.world[rows, r, c] == WASTE
            agent = ((pos[:, None, None, :, 0] == r[..., None]) & (pos[:, None, None, :, 1] == c[..., None])).any(-1)
            # a beam covers the cells before the first wall, up to and including the first agent or waste
            first_wall = np.where(wall.any(-1), wall.argmax(-1), BEAM_LENGTH)
            stop = waste | agent
            first_stop = np.where(stop.any(-1), stop.argmax(-1) + 1, BEAM_LENGTH)
            covered = steps < np.minimum(first_wall, first_stop)[..., None]  # [E, 3, 5]
            hit = covered & waste
            state.world[np.broadcast_to(rows, hit.shape)[hit], r[hit], c[hit]] = RIVER
            cleaned[envs, i] = hit.sum(axis=(1, 2))
            state.beam[np.broadcast_to(rows, covered.shape)[covered], r[covered], c[covered]] = True
        return cleaned

    def step(
        self, state: CleanupState, actions: np.ndarray, principal_action: np.ndarray | None, rng: BatchedStreams
    ) -> Transition:
        b = len(actions)
        rows = np.arange(b)[:, None]
        self._move(state, actions, rng)
        r, c = state.pos[..., 0], state.pos[..., 1]
        apples = state.world[rows, r, c] == APPLE  # [B, N]
        state.world[rows, r, c] = np.where(apples, EMPTY, state.world[rows, r, c])
        cleaned = self._clean(state, actions)
        self.spawn(state, np.arange(b), rng)
        used_clean = actions == CLEAN
        reward = apples.astype(np.float64) - self.cleaning_penalty * used_clean
        outcomes = np.where(used_clean, CLEANED, np.where(reward > 0, COLLECTED, OTHER))
        state.last_clean, state.last_apples, state.last_cleaned = used_clean, apples.astype(np.float64), cleaned
        if principal_action is not None:
            state.last_offers = principal_action
        return Transition(reward, reward.sum(axis=1), outcomes, np.zeros(b, dtype=bool))

    def on_settlement(self, state: CleanupState, settlement: Settlement) -> tuple[np.ndarray, np.ndarray]:
        return designer_rewards(settlement, self.incentive_cost)

    # ----------------------------------------------------------------- observations
    def cell_codes(self, state: CleanupState) -> np.ndarray:
        """What each cell shows ``[B, H, W]``: cell type, this step's beam, or agent ``i`` (code ``6 + i``)."""
        codes = state.world.copy()
        codes[state.beam] = _BEAM_CODE
        rows = np.arange(len(codes))
        for i in range(self.n_agents):
            codes[rows, state.pos[:, i, 0], state.pos[:, i, 1]] = _AGENT_CODE + i
        return codes

    def rgb(self, state: CleanupState) -> np.ndarray:
        """The maps as RGB ``[B, H, W, 3]`` float32 (0..255): cells, this step's beam, agents."""
        return np.take(_PALETTE, self.cell_codes(state), axis=0)

    def observe_agents(self, state: CleanupState, offers: np.ndarray | None) -> np.ndarray:
        v, b = self.view, len(state.t)
        padded = np.full((b, self.height + 2 * v, self.width + 2 * v), _OUTSIDE_CODE, dtype=np.int8)
        padded[:, v : v + self.height, v : v + self.width] = self.cell_codes(state)
        side = 2 * v + 1
        # window of agent i starts at its own (row, col) in padded coordinates: [B, N, side, side]
        windows = sliding_window_view(padded, (side, side), axis=(1, 2))
        window = windows[np.arange(b)[:, None], state.pos[..., 0], state.pos[..., 1]]
        return np.take(_PALETTE_OBS, window, axis=0)

    def observe_principal(self, state: CleanupState) -> np.ndarray:
        image = np.take(_PALETTE_OBS, self.cell_codes(state), axis=0).reshape(len(state.t), -1)
        return np.concatenate([image, state.last_clean.astype(np.float32)], axis=1)

    def global_state(self, state: CleanupState, offers: np.ndarray | None) -> np.ndarray:
        return np.take(_PALETTE_OBS, self.cell_codes(state), axis=0)

    def infos(self, state: CleanupState) -> dict[str, dict[str, np.ndarray]]:
        density = self.waste_density(state)
        ap = self.apple_points
        apple_count = (state.world[:, ap[:, 0], ap[:, 1]] == APPLE).sum(axis=1).astype(np.float64)
        common = {"waste_density": density, "apple_count": apple_count}
        infos: dict[str, dict[str, Any]] = {
            f"agent_{i}": {**common, "apples": state.last_apples[:, i], "cleaned": state.last_cleaned[:, i]}
            for i in range(self.n_agents)
        }
        if self.has_principal:
            infos["principal_0"] = dict(common)
        return infos

    def render_ansi(self, state: CleanupState, env_index: int, offers: np.ndarray | None = None) -> str:
        b = env_index
        chars = CELL_CHARS[state.world[b]].astype("<U1")
        chars[state.beam[b] & (chars == " ")] = "."
        for i in range(self.n_agents):
            chars[state.pos[b, i, 0], state.pos[b, i, 1]] = str(i)
        grid = "\n".join("".join(row) for row in chars)
        density = self.waste_density(state, np.array([b]))[0]
        return f"cleanup {self.map_name}: step {int(state.t[b])}, waste density {density:.2f}\n{grid}"

    def render_rgb(self, state: CleanupState, env_index: int, offers: np.ndarray | None = None) -> np.ndarray:
        """RGB frame uint8: the map (``CELL_PIXELS`` per cell from the top-left, the observation's colours:
        waste brown, clean river blue, apples green, walls grey, this round's beams cyan, agents in their
        colours) and beside it the waste density, the designer's schedule and each agent's outcome and pay."""
        b, px, n = env_index, CELL_PIXELS, self.n_agents
        img = np.take(_PALETTE, self.cell_codes(state)[b], axis=0).astype(np.uint8)
        board = np.repeat(np.repeat(img, px, axis=0), px, axis=1)
        box = 62
        panel_w = max(3 * (box + 3) + 16, 260)
        row_h = 34
        schedule_h = (
            (2 * _draw.GLYPH_HEIGHT + 6 + 20) * (1 if self.mode == "per_action" else n) if self.has_principal else 0
        )
        height = max(board.shape[0], 64 + schedule_h + n * row_h)
        canvas = _draw.Canvas(height, board.shape[1] + panel_w)
        canvas.paste(0, 0, board)
        for i in range(n):  # agent ids on their cells
            r, c = state.pos[b, i]
            canvas.text(
                r * px + (px - _draw.GLYPH_HEIGHT) / 2, c * px + px / 2, str(i), (255, 255, 255), align="center"
            )
        x0 = board.shape[1] + 12
        played = bool(state.t[b] > 0)
        canvas.text(4, x0, f"Cleanup {self.map_name}  round {int(state.t[b])}/{self.horizon}", bold=True)
        density = float(self.waste_density(state, np.array([b]))[0])
        ap = self.apple_points
        apples = int((state.world[b, ap[:, 0], ap[:, 1]] == APPLE).sum())
        canvas.text(20, x0, f"waste {density:.0%} of the river; apples {apples}", _draw.MUTED)
        canvas.bar(36, x0, density, 1.0, panel_w - 28, 6, tuple(int(v) for v in CELL_COLOURS[WASTE]))
        stop = x0 + (panel_w - 28) * self.depletion
        canvas.rect(33, stop, 45, stop + 2, _draw.ALERT)  # apples stop growing beyond this density
        y = 48
        outcome = np.where(state.last_clean[b], CLEANED, np.where(state.last_apples[b] > 0, COLLECTED, OTHER))
        labels = list(OUTCOME_NAMES)
        if self.has_principal:
            rows = (
                [("schedule (every agent)", 0)]
                if self.mode == "per_action"
                else [(f"to agent_{i}", i) for i in range(n)]
            )
            canvas.text(y, x0, "designer pays per outcome" + ("" if played else " (none yet)"), _draw.INK)
            y += 16
            for title, i in rows:
                amounts = state.last_offers[b, i] if played else None
                taken = int(outcome[i]) if played and self.mode == "per_agent" else None
                canvas.text(y, x0, title, _draw.MUTED)
                y = canvas.contract_row(y + 14, x0, labels, amounts, taken, box_width=box) + 6
        for i in range(n):
            colour = tuple(int(v) for v in AGENT_COLOURS[i])
            canvas.rect(y + 3, x0, y + 13, x0 + 10, colour)
            if played:
                what = (
                    f"cleaned {int(state.last_cleaned[b, i])} cell(s)"
                    if outcome[i] == CLEANED
                    else ("ate an apple (+1)" if outcome[i] == COLLECTED else ACTION_NAMES_PAST[int(outcome[i])])
                )
                canvas.text(y, x0 + 14, f"agent_{i}: {what}")
                if self.has_principal:
                    paid = float(state.last_offers[b, i, outcome[i]])
                    colour = _draw.MONEY if paid > 0 else _draw.MUTED
                    canvas.text(y + 14, x0 + 14, f"{OUTCOME_NAMES[outcome[i]]}: paid {_draw.fmt(paid)}", colour)
            else:
                canvas.text(y, x0 + 14, f"agent_{i}")
            y += row_h
        return canvas.pixels


# The registry's entry: the game for ``num_envs`` environments (arguments in the module docstring).
make_game = CleanupGame
