"""
# Coin Game (with a contracting principal)

This environment is part of the *principal-agent* environments of contract-envs. Please read
[Concepts](../concepts.md) first for the round structure, the ledger and the role views.

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/coin_game-v1", preset="parl")` |
| Batched | `contract_envs.vector.make("contract_envs/coin_game-v1", num_envs=1024, seed=0, preset="jaxmarl")` |
| Actions | Mixed: principal Continuous (Box), agents Discrete |
| Parallel API | Yes; native AEC: `contract_envs.make("aec", ...)` (principal, then each agent) |
| Manual Control | No |
| Agents | `agents = ['principal_0', 'agent_0', 'agent_1']` (`principal=False`: agents only) |
| Agents | N + 1 (N = `n_agents`, default 2) |
| Action Shape | principal `(N, A)`, agent `()` (A = 4 moves, 5 with `stay_action`) |
| Action Values | principal `[0, payment_cap]`, agent `{0, ..., A-1}` |
| Observation Shape | agent `{"grid": (4, G, G), "contract": (A,)}`; principal `(2N, G, G)` (layout: `obs_layout`) |
| Observation Values | grid `{0, 1}`, contract `[0, payment_cap]` |
| State Shape | `(2N*G*G + N*A + 1,)` float32 (`principal=False`: `(2N*G*G + 1,)`) |
| State Values | `[global grid, contracts, round / horizon]` |

The Coin Game (Lerer & Peysakhovich 2017; Foerster et al. 2018, LOLA) on a toroidal `G x G` grid:
N agents, one colour each, collect coins of the agents' colours. Taking a coin of one's own colour
pays `own_coin_reward`, a coin of another agent's colour pays `other_coin_reward` and costs that
coin's owner `owner_penalty`. Selfish agents take every coin; welfare is highest when each agent
takes only its own colour: a sequential social dilemma.

With a principal (default, PARL's multi-agent setting: Ivanov et al., arXiv 2407.18074, Sec. 5),
every round the principal first offers each agent an *observed-action contract*: a non-negative
payment for each of the agent's actions, paid after the agent acts (the recommendation contract
"pay p if you take a" is the one-hot case). The principal's reward is
`welfare_weight * sum_i r_i - sum_i payment_i` (PARL: `welfare_weight = 1/alpha = 10`); its
reward is a function of the agents' rewards, so it is not counted again in welfare
(`principal_in_welfare = False`): welfare = `sum_i r_i`.

### There is no single Coin Game: presets
The public implementations disagree on almost every rule. Every rule is a named argument, and
`preset=` picks a complete, explicit set of them; any argument can then be overridden one by one,
e.g. `make(..., preset="rllib", grid_size=7)`. `coin_game_rules(preset, **overrides)` returns the
resolved `CoinGameRules`; `PRESETS` holds the tables.

| argument | `parl` (default) | `parl_3x3` | `rllib` | `lola` | `jaxmarl` |
|---|---|---|---|---|---|
| `grid_size` | 7 | 3 | 3 | 3 | 3 |
| `n_agents` | 2 | 2 | 2 | 2 | 2 |
| `horizon` (rounds per episode) | 50 | 20 | 20 | 150 | 100 |
| `inner_episode_length` | None | None | None | None | 10 |
| `coins` | `"cycle"` | `"cycle"` | `"cycle"` | `"cycle"` | `"per_agent"` |
| `stay_action` | False | False | False | False | True |
| `spawn_on_agents` | False | False | False | False | True |
| `start_overlap` | False | False | False | False | True |
| `tie_rule` | `"random"` | `"random"` | `"all"` | `"first"` | `"all"` |
| `own_coin_reward` | 1.0 | 1.0 | 1.0 | 1.0 | 1.0 |
| `other_coin_reward` | 0.2 | 0.2 | 1.0 | 1.0 | 1.0 |
| `owner_penalty` | 0.0 | 0.0 | 2.0 | 2.0 | 2.0 |
| `asymmetric_bonus` | 0.0 | 0.0 | 0.0 | 0.0 | 0.0 |
| `obs_view` | `"swap"` | `"swap"` | `"swap"` | `"shared"` | `"swap"` |
| `obs_layout` | `"chw"` | `"chw"` | `"hwc"` | `"chw"` | `"flat"` |
| `obs_dtype` | `"uint8"` | `"uint8"` | `"uint8"` | `"uint8"` | `"int8"` |

Sources: `parl`/`parl_3x3`: PARL's Coin Game as transcribed by a third-party reproduction
(7x7 / 50 steps main, 3x3 / 20 steps appendix; +1 own, +0.2 other, no penalty; 4 moves), on the
RLlib game it reportedly modifies. `rllib`: Ray RLlib's `CoinGame`
(`coin_game_non_vectorized_env.py`). `lola`: `alshedivat/lola`, `lola/envs/coin_game.py`
(`CoinGameVec`, 150 steps = `trace_length` of `scripts/run_lola.py`). `jaxmarl`: FLAIROx/JaxMARL
`jaxmarl/environments/coin_game/coin_game.py` (`num_inner_steps=10`, `num_outer_steps=10`,
`payoff_matrix=[[1, 1, -2], [1, 1, -2]]`, `cnn=False`).

### Rules (arguments)
* `grid_size` G: the board is G x G and toroidal (moving off one edge enters at the opposite one).
* `n_agents` N >= 2: agent i has colour i. All presets use 2 (agent_0 = red, agent_1 = blue).
* `coins`: `"cycle"` - one coin on the board; when taken, a new one appears at once, coloured
  with the next agent's colour (`(c + 1) mod N`; alternating for N = 2, as LOLA and RLlib); the
  first colour of an episode is uniform. `"random"` - one coin whose colour is drawn uniformly at
  each spawn (the PARL reproduction's rule). `"per_agent"` - N persistent coins, one per colour;
  a taken coin respawns at once (JaxMARL).
* `stay_action`: add a 5th action, stay. Actions: 0 = right `(0, +1)`, 1 = left `(0, -1)`,
  2 = down `(+1, 0)`, 3 = up `(-1, 0)` as (row, column) steps (the move table of LOLA and
  JaxMARL; JaxMARL's comments call 2 "up"), 4 = stay.
* `spawn_on_agents`: whether a (re)spawned coin may land on a cell occupied by an agent (after
  the agents' moves). False: uniform over the cells without an agent (LOLA, RLlib); True:
  uniform over all cells (JaxMARL). With `coins="per_agent"` coins may share a cell either way.
* `start_overlap`: whether agents may start on the same cell. False: distinct uniform cells;
  True: independent uniform cells. Starting coins follow `spawn_on_agents`.
* `tie_rule` - several agents land on a coin in the same step: `"all"` - every one of them picks
  it up and is credited (RLlib's `both_players_can_pick_the_same_coin=True`, JaxMARL, LOLA-DiCE);
  the owner's penalty is charged once per non-owner picker (so with the +1/-2 rules a shared
  landing on red's coin nets red -1, blue +1). `"first"` - the lowest-indexed agent takes it
  (LOLA's `if/elif`: red first, even for a blue coin). `"random"` - a uniformly drawn one of them
  takes it (the PARL reproduction).
* `own_coin_reward`, `other_coin_reward`: the picker's reward for a coin of its own / another
  colour. `owner_penalty`: subtracted from a coin's owner each time another agent takes it.
  `asymmetric_bonus`: added to agent_0 for each own-colour coin (RLlib's `AsymCoinGame`: 3.0).
* `horizon`: rounds per episode (truncation). `inner_episode_length` L: if set, positions and
  coins are redrawn every L rounds inside an episode without ending it (JaxMARL's inner episodes;
  `horizon = num_inner_steps * num_outer_steps`); `infos` do not flag the inner boundary, the
  round counter in `state()` and `render` shows it.

### Observation Space
Agents see binary planes in their own frame, chosen by `obs_view`:
* `"swap"` (default): 4 channels `[self, other agents, own-colour coins, other-colour coins]`
  on the global board. For N = 2 this is RLlib's / JaxMARL's per-player colour swap of
  `[red agent, blue agent, red coin, blue coin]` (agent_0 sees the global order).
* `"egocentric"`: the same 4 channels, rolled so the agent sits at cell `(G // 2, G // 2)`
  (JaxMARL's `egocentric=True`).
* `"shared"`: the global planes, identical for every agent (LOLA): 2N channels
  `[agent_0, ..., agent_{N-1}, coins of colour 0, ..., coins of colour N-1]`.

`obs_layout`: `"chw"` `(C, G, G)` (LOLA, torch convolutions), `"hwc"` `(G, G, C)` (RLlib,
JaxMARL `cnn=True`), `"flat"` the `hwc` array raveled, `(G*G*C,)` (JaxMARL's default 36-vector).
`obs_dtype`: `uint8` or `int8` (JaxMARL emits int8). With a principal an agent's observation is
`Dict(grid=..., contract=Box(0, payment_cap, (A,), float32))`, the contract being the one offered
this round (all zeros in the offer stage); with `principal=False` it is the grid Box alone.

The principal observes the global planes (2N channels as `"shared"` above, same layout and
dtype). `state()` (`state_space`, float32) is the global planes flattened in `chw` order, then the
current contracts `(N, A)` flattened, then `round / horizon`.

### Action Space
Agents: `Discrete(A)`. Principal: `Box(0, payment_cap, (N, A), float32)`, row i the contract of
agent_i; entry `[i, a]` is paid to agent_i if it takes action a. NaN/inf, negative or above-cap
payments, and out-of-range or non-integer agent actions raise `ValueError` naming the player.

### Rounds and stages
With a principal a round takes two Parallel steps (`contract_envs.core.machines.SequentialContracts`):
an *offer* stage (the principal's contract counts; agents' moves, if given, are only checked) and an
*act* stage (agents act and observe their contract; a principal's move, if given, is only checked).
`infos[player]["acting"]` tells whose move counts next; rewards arrive in the act stage. With
`principal=False` a round is one step. The native AEC env has one turn per player per round:
`principal_0`, then `agent_0`, `agent_1`, ...; the offer takes effect at the principal's turn, so
each agent observes its contract at its own turn. A bad move raises at the turn that made it.

### Outcomes
Contracts are observed-action contracts: an agent's outcome is its action. The realised outcomes of
the round are in `infos[agent_i]["outcome"]` and `infos["principal_0"]["outcomes"]` (-1 in a step
that settles nothing). The principal observes the board, where the agents' moves show (PARL's
principal conditions on the state), so its observation carries no separate outcome record.

### Rewards
Agent i: `r_i + payment_i` (+ reward-sharing transfers); principal: `welfare_weight * sum_i r_i - sum_i payment_i`.
`reward_sharing = p` (the constant-proportion baseline of Christoffersen et al. used by PARL)
turns rewards into `(1 - p) r_i + p * mean_j r_j`. It is money moving between agents, so it is
settled by the contract layer as rule transfers (`contracts.reward_sharing_transfers`: each pair
settles its difference, j paying i `(p / N) max(r_j - r_i, 0)`; net `p * (mean_j r_j - r_i)` to
agent i; the principal takes no part) and recorded in the ledger's `transfer_in` /
`transfer_out` keys, present only when `reward_sharing > 0`. `infos` carry the ledger: per step
`own_reward`, `payment`, `utility` = own + payment + transfer_in - transfer_out (and the
principal's `welfare` = `sum_i r_i`), and running `episode_*` totals.

### Default agent policy of the principal's Gymnasium view
`gymnasium.make("contract_envs/CoinGamePrincipal-v1", **kwargs)` is the principal's problem with
`SelfishCoinAgent` agents plugged in (the game's `default_policy()`; override with
`agent_policy=`). Each agent scores every action a by `value(a) + payment(a)`, where `value(a)` = the largest
`discount ** distance(cell after a, coin) * coin reward` over the coins it sees (own colour:
`own_coin_reward` (+ `asymmetric_bonus` for agent_0), other colours: `other_coin_reward`;
toroidal Manhattan distance; `discount = 0.9`), and takes the best, ties to the lowest action
index. Without payments it greedily heads for the most valuable coin, ignoring the harm to the
owner: the selfish behaviour the principal must correct, and the minimal payment that redirects
it is the value gap `max_a value(a) - value(a*)`, as in PARL's contract `b*`. It reads only the
agent's own observation, so it works with every `obs_view` and `obs_layout`.

### Arguments
```python
contract_envs.make("parallel", "contract_envs/coin_game-v1",
                   preset="parl", principal=True, welfare_weight=10.0, payment_cap=10.0,
                   reward_sharing=0.0, max_cycles=None, render_mode=None,
                   **rule_overrides)  # any CoinGameRules field, e.g. grid_size=5, horizon=30
```
`principal`: False gives the plain Coin Game of the agents alone (for independent learners);
`welfare_weight`: weight of the agents' summed rewards in the principal's reward; `payment_cap`:
largest payment per action; `reward_sharing`: proportion p in [0, 1]; `max_cycles`: the PettingZoo
adapters' own cut-off (Parallel: `step` calls, two per round with a principal; AEC: rounds; default
none: episodes end at `horizon`); every argument is checked (integers integral, reals finite, in
range) and a bad one raises `ValueError` naming it;
`render_mode`: `"ansi"` (text), `"rgb_array"` (numpy drawing, no display needed) or `"human"`
(prints the text frame each step).

### Performance
The rules are written once as batched numpy code over B environments (state as `[objects, B]`
arrays, all rewards from one payoff `einsum`, every observation from one scatter of ones); the
PettingZoo APIs are B = 1 views. `PYTHONPATH=. python benchmarks/throughput.py --calibrate`
prints env-steps/s of the batched core at B = 1, 64, 1024, 16384 (`jaxmarl` and `parl` presets,
a fresh random contract per agent validated and settled every round: one env-step = offer + act
stage) and steps/s of the Parallel and AEC adapters. Measured with `--clock cpu --seconds 0.5
--repeats 5` on the project's shared 2-core machine while it was busy (CPU-time figures; the
reference numpy kernel of the performance notes ran 1.39-1.45x slower there than on the quiet
reference machine, so expect roughly 1.4x these figures on it):

| | B = 1 | B = 64 | B = 1024 | B = 16384 | Parallel | AEC |
|---|---|---|---|---|---|---|
| `jaxmarl` + contracts | 7.7 k | 411 k | 3.29 M | 4.54 M | 19.0 k steps/s | 32.5 k steps/s |
| `parl` + contracts | 7.8 k | 349 k | 2.37 M | 3.47 M | 20.1 k steps/s | 33.6 k steps/s |

For comparison, JaxMARL's Coin Game (`jit(vmap(step))` in `lax.scan`, no contracts) measured
125 k / 1.42 M / 1.94 M / 3.31 M env-steps/s at the same batch sizes on a machine of this class.

### Deviations from the sources
* JaxMARL zeroes both rewards in the step that ends an inner episode (its step returns the reset
  state instead); here that step pays like any other, so each inner episode has L paying steps.
  JaxMARL declares its observation space `uint8` but emits `int8`; here both are `int8`.
* LOLA's `CoinGameVec` and RLlib's numba `coin_game_vectorized_env.py` (3x3 only) batch inside
  the environment; here batching is the core's (`contract_envs.vector.make`), for every preset
  and grid size, with env b of a batch seeded s identical to a single env seeded s + b.
* PARL: the paper's spawn, colour and tie rules are unconfirmed; the `parl` presets keep RLlib's
  colour and spawn rules (alternating colour, never on an agent) with the reproduction's rewards,
  but the reproduction's **random-winner tie** (`tie_rule="random"`): with RLlib's "everyone
  credited" tie and PARL's rewards a shared landing creates welfare (1 + 0.2), so grabbing every
  coin beats taking only one's own colour and the game is no social dilemma. Scripted policies,
  1,024 episodes (`python benchmarks/coin_game_dilemma.py`): on 3x3 greedy 15.51 vs own-colour
  13.45 welfare with `"all"`, but 8.24 vs 12.60 with `"random"`; on 7x7 14.83 vs 13.91 and
  8.85 vs 13.80. The reproduction's random coin colour is `coins="random"`.
* For N > 2 agents the sources have no rules; the generalisation above (colour cycle, penalty
  per non-owner picker, "other agents" as one channel) is this package's.

### Version History
* v1: the game shape of contract-envs 0.2. Native AEC (one turn per player per round: principal,
  then each agent; previously `parallel_to_aec` gave every player a turn in both stages); the
  episode length is `horizon` (was `max_steps`); `max_cycles` only in the PettingZoo adapters;
  realised outcomes in `infos`; moves of players whose move does not count in a stage are checked;
  unknown player keys, non-integral or boolean actions and non-finite or non-integral arguments
  raise; stepping before `reset()` or after the end raises; pickling mid-episode keeps the
  episode. Dynamics, spaces and random draws are unchanged (same trajectories as v0 for the same
  seed and moves).
* v0: Initial release.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

import contract_envs.games._draw as _draw
from contract_envs.checks import check_choice, check_int, check_optional_int, check_real
from contract_envs.contracts import ContractTerms, reward_sharing_transfers
from contract_envs.core.game import Game, GameState, Transition
from contract_envs.rng import BatchedStreams

# the exact reference of this game, for its documentation page (where the optimum is and how to compute it)
EXACT_OPTIMUM = (
    "Two agents: `solve_coin_game_welfare(rules)` (the welfare optimum W* by expectimax DP: 15.249 on `parl`) "
    "and `solve_coin_game_principal(rules)` (the principal's optimum against `SelfishCoinAgent`); any N: "
    "`coin_game_welfare_upper_bound(rules)`"
)

# (row, column) steps: right, left, down, up, stay (LOLA / JaxMARL order)
MOVES = np.array([[0, 1], [0, -1], [1, 0], [-1, 0], [0, 0]], dtype=np.int64)
ACTION_NAMES = ("right", "left", "down", "up", "stay")
CELL_PIXELS = 32  # rgb_array: pixels per board cell

COIN_MODES = ("cycle", "random", "per_agent")
TIE_RULES = ("all", "first", "random")
OBS_VIEWS = ("swap", "egocentric", "shared")
OBS_LAYOUTS = ("chw", "hwc", "flat")
OBS_DTYPES = ("uint8", "int8")


@dataclass(frozen=True)
class CoinGameRules:
    """Every rule the Coin Game sources disagree on (defaults: the ``parl`` preset; see the module doc)."""

    grid_size: int = 7
    n_agents: int = 2
    horizon: int = 50
    inner_episode_length: int | None = None
    coins: str = "cycle"
    stay_action: bool = False
    spawn_on_agents: bool = False
    start_overlap: bool = False
    tie_rule: str = "all"
    own_coin_reward: float = 1.0
    other_coin_reward: float = 0.2
    owner_penalty: float = 0.0
    asymmetric_bonus: float = 0.0
    obs_view: str = "swap"
    obs_layout: str = "chw"
    obs_dtype: str = "uint8"

    def __post_init__(self) -> None:
        owner = "coin_game"
        ints = {"grid_size": (2, None), "n_agents": (2, None), "horizon": (1, None)}
        for name, (low, high) in ints.items():
            object.__setattr__(self, name, check_int(name, getattr(self, name), low, high, owner=owner))
        inner = check_optional_int("inner_episode_length", self.inner_episode_length, 1, owner=owner)
        object.__setattr__(self, "inner_episode_length", inner)
        for name in ("stay_action", "spawn_on_agents", "start_overlap"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{owner}: {name} must be True or False, got {getattr(self, name)!r}")
            object.__setattr__(self, name, bool(getattr(self, name)))
        for name, allowed in (
            ("coins", COIN_MODES),
            ("tie_rule", TIE_RULES),
            ("obs_view", OBS_VIEWS),
            ("obs_layout", OBS_LAYOUTS),
            ("obs_dtype", OBS_DTYPES),
        ):
            check_choice(name, getattr(self, name), allowed, owner=owner)
        for name in ("own_coin_reward", "other_coin_reward", "owner_penalty", "asymmetric_bonus"):
            object.__setattr__(self, name, check_real(name, getattr(self, name), owner=owner))
        cells = self.grid_size**2
        if not self.start_overlap and self.n_agents > cells:
            raise ValueError(
                f"{owner}: n_agents must be <= grid_size**2 ({cells}) for agents to start on distinct cells "
                f"(start_overlap=False), got {self.n_agents}"
            )
        if not self.spawn_on_agents and self.n_agents >= cells:
            raise ValueError(
                f"{owner}: with spawn_on_agents=False a coin needs a free cell: n_agents must be < "
                f"grid_size**2 ({cells}), got {self.n_agents}"
            )

    @property
    def n_actions(self) -> int:
        return 5 if self.stay_action else 4

    @property
    def n_coins(self) -> int:
        return self.n_agents if self.coins == "per_agent" else 1

    @property
    def agent_channels(self) -> int:
        return 2 * self.n_agents if self.obs_view == "shared" else 4


_PARL = dict(
    grid_size=7,
    n_agents=2,
    horizon=50,
    inner_episode_length=None,
    coins="cycle",
    stay_action=False,
    spawn_on_agents=False,
    start_overlap=False,
    tie_rule="random",
    own_coin_reward=1.0,
    other_coin_reward=0.2,
    owner_penalty=0.0,
    asymmetric_bonus=0.0,
    obs_view="swap",
    obs_layout="chw",
    obs_dtype="uint8",
)

#: Complete rule sets named after the source they reproduce (see the module docstring's table).
PRESETS: dict[str, dict[str, Any]] = {
    "parl": dict(_PARL),
    "parl_3x3": dict(_PARL, grid_size=3, horizon=20),
    "rllib": dict(
        _PARL, grid_size=3, horizon=20, other_coin_reward=1.0, owner_penalty=2.0, tie_rule="all", obs_layout="hwc"
    ),
    "lola": dict(
        _PARL, grid_size=3, horizon=150, other_coin_reward=1.0, owner_penalty=2.0, tie_rule="first", obs_view="shared"
    ),
    "jaxmarl": dict(
        _PARL,
        grid_size=3,
        horizon=100,
        inner_episode_length=10,
        coins="per_agent",
        stay_action=True,
        spawn_on_agents=True,
        start_overlap=True,
        tie_rule="all",
        other_coin_reward=1.0,
        owner_penalty=2.0,
        obs_layout="flat",
        obs_dtype="int8",
    ),
}


def coin_game_rules(preset: str = "parl", **overrides: Any) -> CoinGameRules:
    """The rules of ``preset`` with ``overrides`` applied one by one (unknown names raise ``ValueError``)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown Coin Game preset {preset!r}; available: {sorted(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(CoinGameRules)}
    if "max_steps" in overrides:
        raise ValueError("coin_game: max_steps was renamed horizon (rounds per episode) in coin_game-v1")
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown Coin Game argument(s) {unknown}; rule arguments are {sorted(fields)}")
    return CoinGameRules(**{**PRESETS[preset], **overrides})


@functools.cache
def _tables(grid_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Move table ``[cell, action] -> cell`` and egocentric table ``[viewer cell, cell] -> view cell``."""
    g = grid_size
    rows, cols = np.divmod(np.arange(g * g), g)
    move = ((rows[:, None] + MOVES[:, 0]) % g) * g + (cols[:, None] + MOVES[:, 1]) % g
    centre = g // 2
    ego = ((rows[None, :] - rows[:, None] + centre) % g) * g + (cols[None, :] - cols[:, None] + centre) % g
    return move, ego


def _palette(n: int) -> np.ndarray:
    base = [
        (220, 50, 47),
        (38, 110, 210),
        (60, 160, 40),
        (230, 140, 20),
        (150, 60, 190),
        (20, 170, 170),
        (200, 60, 140),
        (120, 90, 40),
    ]
    colours = [base[i % len(base)] for i in range(n)]
    return np.array(colours, dtype=np.uint8)


@dataclass
class CoinGameState(GameState):
    """State of a batch, object-major so that sums over agents or coins are row additions.

    ``positions [N + K, B]``: flat cells ``row * G + col`` of the agents, then of the coins (K = 1, or N
    with ``coins="per_agent"``); ``colours [K, B]``: the coins' colours (agent indices);
    ``last_actions``, ``last_rewards [N, B]``: the previous round (renders; -1 / 0 before the first);
    ``last_offers [B, N, A]``: the contracts of the previous round (renders; ``None`` without a principal).
    Observations are cached in ``cache`` until the state changes (call ``clear_cache()`` after editing
    the arrays by hand).
    """

    positions: np.ndarray
    colours: np.ndarray
    last_actions: np.ndarray
    last_rewards: np.ndarray
    last_offers: np.ndarray | None = None  # [B, N, A]: the contracts settled in the previous round (renders)

    def __post_init__(self) -> None:
        self.cache: dict[str, Any] = {}

    @property
    def agent_cell(self) -> np.ndarray:
        """``[B, N]`` view of the agents' flat cells."""
        return self.positions[: self.last_actions.shape[0]].T

    @property
    def coin_cell(self) -> np.ndarray:
        """``[B, K]`` view of the coins' flat cells."""
        return self.positions[self.last_actions.shape[0] :].T

    @property
    def coin_colour(self) -> np.ndarray:
        """``[B, K]`` view of the coins' colours."""
        return self.colours.T


class CoinGame(Game):
    """Batched Coin Game rules over ``num_envs`` boards (see the module docstring).

    Observations are written by one scatter of ones into a zeroed buffer, at precomputed flat offsets.
    """

    name = "coin_game"
    principal_in_welfare = False
    render_modes = ("ansi", "human", "rgb_array")
    render_fps = 5

    def __init__(
        self,
        rules: CoinGameRules,
        num_envs: int = 1,
        principal: bool = True,
        welfare_weight: float = 10.0,
        payment_cap: float = 10.0,
        reward_sharing: float = 0.0,
    ) -> None:
        if not isinstance(rules, CoinGameRules):
            raise ValueError(f"rules must be a CoinGameRules, got {type(rules).__name__}")
        if not isinstance(principal, bool):
            raise ValueError(f"coin_game: principal must be True or False, got {principal!r}")
        self.rules = rules
        self.welfare_weight = check_real("welfare_weight", welfare_weight, owner=self.name)
        self.reward_sharing = check_real("reward_sharing (proportion p)", reward_sharing, 0.0, 1.0, owner=self.name)
        n, a = rules.n_agents, rules.n_actions
        terms = ContractTerms(n, a, check_real("payment_cap", payment_cap, 0.0, low_open=True, owner=self.name))
        super().__init__(
            num_envs, n, a, terms if principal else None, rules.horizon, transfers=self.reward_sharing > 0.0
        )
        b = self.num_envs
        g = self.grid_size = rules.grid_size
        self.n_cells = g * g
        self.n_coins = rules.n_coins
        self._per_agent_coins = rules.coins == "per_agent"
        move, self._ego = _tables(g)
        self._move = np.ascontiguousarray(move[:, :a])  # [cell, action] -> cell
        self._agent_index = np.arange(n)
        self._env_index = np.arange(b)
        self._dtype = np.dtype(rules.obs_dtype)
        k = self.n_coins
        # random draws per env per step (fixed count: batch-independent streams): one spawn cell per
        # coin, then a colour draw ("random" coins), then one tie-break draw per coin ("random" ties)
        self._n_step_draws = k + int(rules.coins == "random") + (k if rules.tie_rule == "random" else 0)
        self._payoff = self._payoff_matrix()
        self._inner_end = None  # [round index t] -> round t + 1 ends an inner episode (not the last round)
        if rules.inner_episode_length is not None:
            rounds = np.arange(1, rules.horizon + 1)
            self._inner_end = (rounds % rules.inner_episode_length == 0) & (rounds < rules.horizon)
        self._build_spaces()
        self._agent_grid_shape = (b, n, *self._grid_shape(rules.agent_channels))
        self._principal_grid_shape = (b, *self._grid_shape(2 * n))
        self._never_terminal = np.zeros(b, dtype=bool)
        self._build_scatter_tables()

    # ----------------------------------------------------------------- spaces
    def _grid_shape(self, channels: int) -> tuple[int, ...]:
        g, layout = self.grid_size, self.rules.obs_layout
        if layout == "chw":
            return (channels, g, g)
        if layout == "hwc":
            return (g, g, channels)
        return (g * g * channels,)

    def _build_spaces(self) -> None:
        r = self.rules
        grid = spaces.Box(0, 1, self._grid_shape(r.agent_channels), dtype=self._dtype)
        if self.has_principal:
            self.agent_observation_space = spaces.Dict({"grid": grid, "contract": self.principal.contract_space()})
        else:
            self.agent_observation_space = grid
        self.principal_observation_space = spaces.Box(0, 1, self._grid_shape(2 * r.n_agents), dtype=self._dtype)
        n_grid = 2 * r.n_agents * self.n_cells
        n_contract = r.n_agents * r.n_actions if self.has_principal else 0
        high = np.ones(n_grid + n_contract + 1, dtype=np.float32)
        if n_contract:
            high[n_grid : n_grid + n_contract] = self.principal.payment_cap
        self.state_space = spaces.Box(np.zeros_like(high), high, dtype=np.float32)

    # ----------------------------------------------------------------- dynamics
    def _payoff_matrix(self) -> np.ndarray:
        """``[N + 1, N * N]``: column ``j * N + c`` = agent j picks a coin of colour c; rows: each
        agent's reward from that pick, then the principal's ``welfare_weight * sum_i r_i``."""
        r, n = self.rules, self.n_agents
        payoff = np.zeros((n + 1, n * n))
        for j in range(n):
            for c in range(n):
                if j == c:
                    payoff[j, j * n + c] = r.own_coin_reward + (r.asymmetric_bonus if j == 0 else 0.0)
                else:
                    payoff[j, j * n + c] = r.other_coin_reward
                    payoff[c, j * n + c] -= r.owner_penalty
        payoff[n] = self.welfare_weight * payoff[:n].sum(axis=0)
        return payoff

    def _kth_free(self, occupied: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A uniform cell not in ``occupied [M, E]`` (cells of M objects) for each of E envs, from ``u [E]``."""
        if occupied.shape[0] == 0:
            return np.floor(u * self.n_cells).astype(np.int64)
        taken = np.sort(occupied, axis=0)
        distinct = np.ones(taken.shape, dtype=bool)
        distinct[1:] = taken[1:] != taken[:-1]
        cell = np.floor(u * (self.n_cells - distinct.sum(axis=0))).astype(np.int64)
        for row, new in zip(taken, distinct, strict=True):  # skip occupied cells in increasing order
            cell += new & (row <= cell)
        return cell

    def _spawn(self, agents: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Coin cells ``[K, E]`` from uniforms ``u [K, E]`` under the spawn rule (agents ``[N, E]``)."""
        if self.rules.spawn_on_agents:
            return np.floor(u * self.n_cells).astype(np.int64)
        return np.stack([self._kth_free(agents, row) for row in u])

    def init_state(self) -> CoinGameState:
        n, k, b = self.n_agents, self.n_coins, self.num_envs
        colours = np.zeros((k, b), dtype=np.int64)
        if self._per_agent_coins:
            colours[:] = np.arange(k)[:, None]
        return CoinGameState(
            t=np.zeros(b, dtype=np.int64),
            positions=np.zeros((n + k, b), dtype=np.int64),
            colours=colours,
            last_actions=np.full((n, b), -1, dtype=np.int64),
            last_rewards=np.zeros((n, b)),
            last_offers=np.zeros((b, n, self.n_actions)) if self.has_principal else None,
        )

    def reset(self, state: CoinGameState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        r, n, k = self.rules, self.n_agents, self.n_coins
        u = rng.uniform(n + k + 1, env_idx).T  # [draws, E]
        if r.start_overlap:
            cells = np.floor(u[:n] * self.n_cells).astype(np.int64)
        else:
            cells = np.empty((n, len(env_idx)), dtype=np.int64)
            for i in range(n):
                cells[i] = self._kth_free(cells[:i], u[i])
        state.positions[:n, env_idx] = cells
        state.positions[n:, env_idx] = self._spawn(cells, u[n : n + k])
        if not self._per_agent_coins:
            state.colours[0, env_idx] = np.floor(u[n + k] * n).astype(np.int64)
        # out of place: the previous arrays were handed out (the caller's actions, the rewards)
        state.last_actions = state.last_actions.copy()
        state.last_actions[:, env_idx] = -1
        state.last_rewards = state.last_rewards.copy()
        state.last_rewards[:, env_idx] = 0.0
        state.cache.clear()

    def _resolve_ties(self, on: np.ndarray, u_tie: np.ndarray | None) -> np.ndarray:
        """Who picks each coin up, from ``on [N, ..., B]`` (agent i on the coin) by the tie rule."""
        rule = self.rules.tie_rule
        if rule == "all":
            return on
        rank = np.cumsum(on, axis=0)  # 1-based rank of each lander among the landers
        if rule == "first":
            return on & (rank == 1)
        winner = np.floor(u_tie * rank[-1]).astype(np.int64) + 1
        return on & (rank == winner)

    def step(
        self, state: CoinGameState, actions: np.ndarray, principal_action: np.ndarray | None, rng: BatchedStreams
    ) -> Transition:
        r, n, k = self.rules, self.n_agents, self.n_coins
        agents, coins = state.positions[:n], state.positions[n:]
        act = actions.T  # [N, B]
        cell = self._move[agents, act]
        agents[...] = cell
        draws = rng.uniform(self._n_step_draws).T  # [draws, B]
        u_tie = draws[self._n_step_draws - k :] if r.tie_rule == "random" else None
        if self._per_agent_coins:  # coin c has colour c
            pick = self._resolve_ties(cell[:, None, :] == coins[None, :, :], u_tie)  # [N, K, B]
            taken = np.logical_or.reduce(pick, axis=0)  # [K, B]
            pick_by_colour = pick
        else:
            pick = self._resolve_ties(cell == coins, u_tie[0] if u_tie is not None else None)  # [N, B]
            taken = np.logical_or.reduce(pick, axis=0, keepdims=True)
            colour_is = state.colours == self._agent_index[:, None]  # [N colours, B]
            pick_by_colour = pick[:, None, :] & colour_is[None]  # [N, N colours, B]
        # every reward at once: [N agents + principal, B] (einsum's fixed summation order keeps
        # batched and single envs bit-identical, which a BLAS matmul would not guarantee)
        payoffs = np.einsum("ik,kb->ib", self._payoff, pick_by_colour.reshape(n * n, -1))
        rewards = payoffs[:n]
        if np.count_nonzero(taken):
            np.copyto(coins, self._spawn(cell, draws[:k]), where=taken)
            if r.coins == "cycle":
                state.colours = np.where(taken, state.colours + 1, state.colours) % n
            elif r.coins == "random":
                state.colours = np.where(taken, np.floor(draws[k : k + 1] * n).astype(np.int64), state.colours)
        state.cache.clear()
        if self._inner_end is not None:  # redraw the board where this round ends an inner episode
            at_boundary = self._inner_end[state.t]  # t < horizon: the stage machine truncates there
            if np.count_nonzero(at_boundary):
                self.reset(state, np.flatnonzero(at_boundary), rng)
        state.last_actions, state.last_rewards = act, rewards
        if principal_action is not None:
            state.last_offers = principal_action
        agent_own = rewards.T
        outcomes = actions if self.has_principal else None  # observed-action contracts: outcome = action
        transfers = reward_sharing_transfers(agent_own, self.reward_sharing) if self.transfers else None
        return Transition(agent_own, payoffs[n], outcomes, self._never_terminal, transfers)

    # ----------------------------------------------------------------- observations
    def _build_scatter_tables(self) -> None:
        """Flat offsets of every one-hot entry of the agents' and the principal's grids.

        A *view* (one agent's grid, or the principal's) has one slot per object it shows: slot
        ``s`` shows object ``obj[v, s]`` (agents ``0..N-1``, then coins) in a fixed channel; the
        flat index of the entry in the shared buffer is ``base[v, s, b] + cell * stride[v]``, plus,
        for the single coin of ``coins="cycle"|"random"``, ``adjust[v, colour]`` (its channel
        depends on its colour). All views are written by one scatter (see :meth:`_grids`).
        """
        r, n, k, b, cells = self.rules, self.n_agents, self.n_coins, self.num_envs, self.n_cells
        chw = r.obs_layout == "chw"
        chan_stride = cells if chw else 1
        coin_colour = np.arange(k) if self._per_agent_coins else np.zeros(k, dtype=np.int64)
        global_obj = np.arange(n + k)
        global_chan = np.concatenate([np.arange(n), n + coin_colour])
        global_adjust = np.arange(n) * chan_stride * (not self._per_agent_coins)  # coin in channel N + colour

        views = []  # (objects, channels, stride, grid start per env, adjust per colour)
        agent_grid = r.agent_channels * cells
        for i in range(n):
            start = (self._env_index * n + i) * agent_grid
            stride = 1 if chw else r.agent_channels
            if r.obs_view == "shared":
                views.append((global_obj, global_chan, stride, start, global_adjust))
            else:  # channels: self, other agents, own-colour coins, other-colour coins
                obj = np.array([i] + [j for j in range(n) if j != i] + list(range(n, n + k)))
                own = [self._per_agent_coins and c == i for c in coin_colour]  # single coin: via adjust
                chan = np.array([0] + [1] * (n - 1) + [2 if mine else 3 for mine in own])
                adjust = -chan_stride * (np.arange(n) == i) * (not self._per_agent_coins)  # own colour: 3 -> 2
                views.append((obj, chan, stride, start, adjust))
        self._agent_size = b * n * agent_grid
        if self.has_principal:
            start = self._agent_size + self._env_index * 2 * n * cells
            views.append((global_obj, global_chan, 1 if chw else 2 * n, start, global_adjust))
        self._obs_tables = self._stack_views(views, chan_stride)
        self._unit_stride = chw  # every view's cell stride is 1
        global_start = self._env_index * 2 * n * cells  # the global planes alone, chw, for global_state()
        self._global_tables = self._stack_views(
            [(global_obj, global_chan, 1, global_start, np.arange(n) * cells * (not self._per_agent_coins))], cells
        )

    @staticmethod
    def _stack_views(views: list, chan_stride: int) -> tuple[np.ndarray, ...]:
        obj = np.stack([v[0] for v in views])  # [V, S]
        base = np.stack([v[3][None, :] + v[1][:, None] * chan_stride for v in views])  # [V, S, B]
        stride = np.array([v[2] for v in views])[:, None, None]
        adjust = np.stack([v[4] for v in views])  # [V, N colours]
        return obj, base, stride, adjust

    def _indices(self, state: CoinGameState, tables: tuple[np.ndarray, ...], egocentric: bool) -> np.ndarray:
        """Flat indices ``[V, S, B]`` of the ones of every view of ``tables``."""
        obj, base, stride, adjust = tables
        n = self.n_agents
        where = state.positions[obj]  # [V, S, B] cells
        if egocentric:
            where[:n] = self._ego[state.positions[:n][:, None, :], where[:n]]
        if self._unit_stride:
            index = where + base
        else:
            index = where * stride
            index += base
        if not self._per_agent_coins:  # the single coin's channel depends on its colour
            index[:, n] += adjust[:, state.colours[0]]
        return index

    def _grids(self, state: CoinGameState) -> tuple[np.ndarray, np.ndarray | None]:
        """Agents' grids ``[B, N, *shape]`` and the principal's ``[B, *shape]`` (None without one),
        written by a single scatter of ones into one zeroed buffer; cached until the state changes."""
        grids = state.cache.get("grids")
        if grids is None:
            r, n, b = self.rules, self.n_agents, self.num_envs
            index = self._indices(state, self._obs_tables, r.obs_view == "egocentric")
            principal_size = b * 2 * n * self.n_cells if self.has_principal else 0
            buffer = np.zeros(self._agent_size + principal_size, self._dtype)
            buffer[index.ravel()] = 1
            agent = buffer[: self._agent_size].reshape(self._agent_grid_shape)
            principal = None
            if self.has_principal:
                principal = buffer[self._agent_size :].reshape(self._principal_grid_shape)
            grids = state.cache["grids"] = (agent, principal)
        return grids

    def _as_planes(self, flat: np.ndarray, n_viewers: int, channels: int) -> np.ndarray:
        if self.rules.obs_layout == "chw":
            return flat.reshape(self.num_envs, n_viewers, channels, self.n_cells)
        return flat.reshape(self.num_envs, n_viewers, self.n_cells, channels)

    def _shape_grid(self, grid: np.ndarray) -> np.ndarray:
        g, layout = self.grid_size, self.rules.obs_layout
        lead = grid.shape[:-2]
        if layout == "chw":
            return grid.reshape(*lead, grid.shape[-2], g, g)
        if layout == "hwc":
            return grid.reshape(*lead, g, g, grid.shape[-1])
        return grid.reshape(*lead, -1)

    def agent_grids(self, state: CoinGameState) -> np.ndarray:
        """Each agent's grid ``[B, N, *grid shape]`` in its own frame."""
        return self._grids(state)[0]

    def global_grid(self, state: CoinGameState) -> np.ndarray:
        """``[B, 2N, cells]`` bool: the agents' planes, then the coin planes by colour (chw order)."""
        flat = np.zeros(self.num_envs * 2 * self.n_agents * self.n_cells, dtype=bool)
        flat[self._indices(state, self._global_tables, False).ravel()] = True
        return flat.reshape(self.num_envs, 2 * self.n_agents, self.n_cells)

    def observe_principal(self, state: CoinGameState) -> np.ndarray:
        principal = self._grids(state)[1]
        if principal is None:  # principal=False: not part of the game, but handy for inspection
            planes = self.global_grid(state).astype(self._dtype)
            principal = self._shape_grid(planes if self.rules.obs_layout == "chw" else np.swapaxes(planes, 1, 2))
        return principal

    def observe_agents(self, state: CoinGameState, offers: np.ndarray | None) -> Any:
        grids = self._grids(state)[0]
        if not self.has_principal:
            return grids
        return {"grid": grids, "contract": offers.astype(np.float32)}

    def global_state(self, state: CoinGameState, offers: np.ndarray | None) -> np.ndarray:
        grid = self.global_grid(state).reshape(self.num_envs, -1)
        parts = [grid.astype(np.float32)]
        if self.has_principal:
            parts.append(np.asarray(offers, dtype=np.float32).reshape(self.num_envs, -1))
        parts.append((state.t / self.horizon).astype(np.float32)[:, None])
        return np.concatenate(parts, axis=1)

    def default_policy(self) -> SelfishCoinAgent:
        return SelfishCoinAgent(self.rules)

    # ----------------------------------------------------------------- rendering
    def render_ansi(self, state: CoinGameState, env_index: int, offers: np.ndarray | None = None) -> str:
        b, g = env_index, self.grid_size
        cells = [[""] * g for _ in range(g)]
        for i, c in enumerate(state.agent_cell[b]):
            cells[c // g][c % g] += str(i)
        for c, colour in zip(state.coin_cell[b], state.coin_colour[b], strict=True):
            cells[c // g][c % g] += f"${colour}"
        width = max(3, max(len(s) for row in cells for s in row) + 1)
        rows = ["".join((s or ".").rjust(width) for s in row) for row in cells]
        head = f"coin_game: round {int(state.t[b])}/{self.horizon} (digits: agents, $c: coin of agent c's colour)"
        last = ""
        if state.last_actions[0, b] >= 0:
            moves = ", ".join(f"{i}:{ACTION_NAMES[a]}" for i, a in enumerate(state.last_actions[:, b]))
            rew = ", ".join(f"{x:+.2f}" for x in state.last_rewards[:, b])
            last = f"\nlast moves {moves} | rewards {rew}"
        if offers is not None:
            last += "\ncontracts offered: " + "; ".join(
                f"agent_{i} {np.array2string(offers[b, i], precision=2)}" for i in range(self.n_agents)
            )
        return head + "\n" + "\n".join(rows) + last

    def render_rgb(self, state: CoinGameState, env_index: int, offers: np.ndarray | None = None) -> np.ndarray:
        """RGB frame uint8: the board (``CELL_PIXELS`` per cell from the top-left: agents as squares with
        an arrow of their last move, coins as discs with a gold rim), and beside it each agent's contract
        (``offers`` on the table, else the previous round's) and what it was paid for the move it made."""
        b, g, p = env_index, self.grid_size, CELL_PIXELS
        n, a = self.n_agents, self.n_actions
        box = 36
        panel_w = max(a * (box + 3) + 16, 240)
        row_h = 16 + 2 * _draw.GLYPH_HEIGHT + 6 + 20
        height = max(g * p, 40 + n * row_h + 20)
        canvas = _draw.Canvas(height, g * p + panel_w)
        board = canvas.pixels[: g * p, : g * p]
        board[...] = 245
        board[::p, :] = 200
        board[:, ::p] = 200
        board[-1, :] = 200
        board[:, -1] = 200
        colours = _palette(n)
        agent_cell = state.agent_cell[b]
        inset = max(2, p // 8)
        played = state.t[b] > 0 and state.last_actions[0, b] >= 0
        for c in np.unique(agent_cell):
            here = np.flatnonzero(agent_cell == c)
            r0, c0 = (c // g) * p, (c % g) * p
            width = (p - 2 * inset) / len(here)
            for j, i in enumerate(here):
                x0, x1 = c0 + inset + int(round(j * width)), c0 + inset + int(round((j + 1) * width))
                board[r0 + inset : r0 + p - inset, x0:x1] = colours[i]
                if played and len(here) == 1:
                    _move_icon(canvas, r0 + p / 2, c0 + p / 2, int(state.last_actions[i, b]), (255, 255, 255), p / 4)
        yy, xx = np.mgrid[0:p, 0:p] - (p - 1) / 2.0
        dist = np.sqrt(yy**2 + xx**2)
        disc, ring = dist <= 0.22 * p, dist <= 0.30 * p
        for c, colour in zip(state.coin_cell[b], state.coin_colour[b], strict=True):
            block = board[(c // g) * p : (c // g + 1) * p, (c % g) * p : (c % g + 1) * p]
            block[ring] = (255, 215, 0)  # gold rim marks a coin even on an agent of its colour
            block[disc] = colours[colour]
        # the panel: contracts and payments
        x0 = g * p + 12
        canvas.text(4, x0, f"Coin Game  round {int(state.t[b])}/{self.horizon}", bold=True)
        if not self.has_principal:
            status = "no principal" if not played else "last round"
        elif offers is not None:
            status = "offer on the table; agents move next"
        else:
            status = "last round: offer, move, payment" if played else "the principal offers next"
        canvas.text(20, x0, status, _draw.MUTED)
        labels = [ACTION_NAMES[k] for k in range(a)]
        y = 40
        for i in range(n):
            canvas.rect(y + 2, x0, y + 12, x0 + 10, tuple(int(v) for v in colours[i]))
            line = f"agent_{i}"
            if played and offers is None:
                line += f"  {ACTION_NAMES[int(state.last_actions[i, b])]}, reward {state.last_rewards[i, b]:+.2f}"
            canvas.text(y, x0 + 14, line)
            if self.has_principal:
                on_table = offers is not None
                amounts = offers[b, i] if on_table else (state.last_offers[b, i] if played else None)
                taken = None if on_table or not played else int(state.last_actions[i, b])
                bottom = canvas.contract_row(y + 16, x0, labels, amounts, taken, box_width=box)
                if taken is not None:
                    paid = float(state.last_offers[b, i, taken])
                    canvas.text(bottom + 1, x0, f"paid {_draw.fmt(paid)}", _draw.MONEY if paid > 0 else _draw.MUTED)
            y += row_h
        return canvas.pixels


def _move_icon(canvas: _draw.Canvas, cy: float, cx: float, action: int, colour, size: float) -> None:
    """An arrow of a move (action index into ``MOVES``), a dot for stay."""
    dy, dx = MOVES[action]
    if dy == 0 and dx == 0:
        canvas.disc(cy, cx, size / 3, colour)
    else:
        canvas.arrow(cy - dy * size, cx - dx * size, cy + dy * size, cx + dx * size, colour, width=2, head=size * 0.8)


class SelfishCoinAgent:
    """Default agent policy of the principal's view: ``(agent_id, observation) -> action``.

    Scores each action by the discounted value of the best coin it moves towards plus the payment
    the contract offers for it (see "Default agent policy" in the module docstring). Picklable.
    """

    def __init__(self, rules: CoinGameRules, discount: float = 0.9) -> None:
        self.rules, self.discount = rules, float(discount)
        g = rules.grid_size
        move, _ = _tables(g)
        rows, cols = np.divmod(np.arange(g * g), g)
        dr = np.abs(rows[:, None] - rows[None, :])
        dc = np.abs(cols[:, None] - cols[None, :])
        distance = np.minimum(dr, g - dr) + np.minimum(dc, g - dc)  # toroidal Manhattan [cell, cell]
        self._dest = move[:, : rules.n_actions]  # [cell, action]
        self._decay = self.discount**distance

    def _planes(self, grid: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r, g = self.rules, self.rules.grid_size
        arr = np.asarray(grid)
        channels = r.agent_channels
        if r.obs_layout == "chw":
            planes = arr.reshape(channels, g * g)
        else:
            planes = arr.reshape(g * g, channels).T
        if r.obs_view == "shared":
            n = r.n_agents
            coins = planes[n:]
            return planes[index], coins[index], coins.sum(axis=0) - coins[index]
        return planes[0], planes[2], planes[3]

    def __call__(self, agent: str, observation: Any) -> int:
        index = int(agent.rsplit("_", 1)[1])
        if isinstance(observation, dict):
            grid, contract = observation["grid"], np.asarray(observation["contract"], dtype=np.float64)
        else:
            grid, contract = observation, np.zeros(self.rules.n_actions)
        me, own_coins, other_coins = self._planes(grid, index)
        own_value = self.rules.own_coin_reward + (self.rules.asymmetric_bonus if index == 0 else 0.0)
        worth = own_value * (own_coins > 0) + self.rules.other_coin_reward * ((other_coins > 0) & (own_coins == 0))
        here = int(np.argmax(me))
        values = (self._decay[self._dest[here]] * worth).max(axis=1)  # [actions]
        return int(np.argmax(values + contract))


def make_game(
    num_envs: int = 1,
    preset: str = "parl",
    principal: bool = True,
    welfare_weight: float = 10.0,
    payment_cap: float = 10.0,
    reward_sharing: float = 0.0,
    **rules: Any,
) -> CoinGame:
    """The game for ``num_envs`` environments (the registry's entry; arguments in the module docstring)."""
    return CoinGame(
        coin_game_rules(preset, **rules),
        num_envs=num_envs,
        principal=principal,
        welfare_weight=welfare_weight,
        payment_cap=payment_cap,
        reward_sharing=reward_sharing,
    )


__all__ = [
    "PRESETS",
    "CoinGame",
    "CoinGameRules",
    "CoinGameState",
    "SelfishCoinAgent",
    "coin_game_rules",
    "make_game",
]
