"""
# Gather-Trade-Build (the AI Economist's economy with a tax-setting planner)

This environment is part of the *incentive-design* environments of contract-envs (see
[Escape Room](escape_room.md) for the timing and [Concepts](../concepts.md) for the ledger).

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/gather_trade_build-v0", preset="paper")` |
| Batched | `contract_envs.vector.make("contract_envs/gather_trade_build-v0", num_envs=1024, seed=0)` |
| Actions | Mixed: planner Continuous (Box), agents Discrete (with action masks) |
| Parallel API | Yes |
| AEC API | native: planner first, then each agent; rates held until the last agent moves (agents never see them) |
| Manual Control | No |
| Agents | `['principal_0', 'agent_0', ..., 'agent_3']` |
| Agents | N + 1 (N = `n_agents`, 4 in both presets) |
| Action Shape | planner `(7,)`, agent `()` |
| Action Values | planner `[0, 1]` (marginal rates of the 7 brackets), agent `{0, ..., 4P + 5}` = `{0, ..., 49}` |
| Observation Shape | agent: map `(9, 11, 11)`, flat `(136,)`, mask `(50,)`; planner: map `(8, 15, 15)`, flat `(118,)` |
| Observation Values | map `uint8`, flat `float32`, `action_mask` `int8` in `{0, 1}` (sizes of `paper`; see below) |
| State Shape | `(8 H W + 118,)` float32: the planner's map, flattened, then its features |

Gather-Trade-Build is the simulated economy of Salesforce's AI Economist (Zheng et al., *The AI
Economist*, Science Advances 2022; the `ai-economist` package, scenario
`layout_from_file/simple_wood_and_stone` with components Build, ContinuousDoubleAuction, Gather and
PeriodicBracketTax) in the configuration of adaptive incentive design with meta-gradients (Yang et
al., AAMAS 2022, `config_foundation_ppo.py`): N agents move on a map, gather wood and stone, trade them
in a continuous double auction and build houses for coin; a planner sets the marginal rates of seven
income-tax brackets at the start of every tax period; taxes are collected at the period's end and
redistributed lump-sum. The planner is scored on productivity x equality of the agents' coin.
P = `max_bid_ask + 1` price levels (11), R = `observation_range` (5), `H x W` the map: an agent's map is
`(9, 2R+1, 2R+1)`, its `flat` `(15 + 10P + 7 + N,)`, its mask `(4P + 6,)`; the planner's map `(8, H, W)`, its
`flat` `(9 + 6P + 7 + 9N,)`.

### Presets
`preset=` picks the map, the number of agents, the episode and the tax period; any argument can then be
overridden (`make(..., preset="paper", horizon=200)`). `PRESETS` and `LAYOUTS` hold the tables.

| argument | `paper` (default) | `small` |
|---|---|---|
| `layout` | `"pure_and_mixed_15x15"` (the AI Economist's `env-pure_and_mixed-15x15`) | `"small_7x7"` |
| `n_agents` | 4 | 4 |
| `horizon` (steps per episode) | 100 | 30 |
| `period_length` (steps per tax period) | 10 | 10 |
| `fixed_four_skill_and_loc` | True | True |

The other arguments default to the paper's values in both (starting coin 10, Pareto skills with multiplier 3,
at most 5 open orders per resource, ...). `small` is for tests and quick learning runs.

### Rules (one step)
The components act in the AI Economist's order, then resources regrow:
1. **Build** (action 1): an agent holding a unit of wood and of stone, standing on empty land (no resource,
   source cell, water or house), spends them, puts a house owned by it on its cell, earns its
   `build_payment` coin and `build_labour` labour (10).
2. **Trade** (actions `2 + 2P r + q`: bid price `q` for resource `r`; `2 + 2P r + P + q`: ask price `q`;
   `r` = 0 stone, 1 wood): an agent with fewer than `max_num_orders` open orders for that resource places
   a bid if it holds `q` coin (set aside in escrow) or an ask if it holds a unit (set aside), for
   `order_labour` labour (0.25). The book of each resource is then cleared: repeatedly the best bid of a
   buyer still in play (highest price, then oldest, then lowest agent index) meets the best ask of
   another agent (lowest price, then oldest, then lowest index); if bid >= ask they trade at the price of
   the order placed first (the ask's on a tie), the unit goes to the buyer and the price to the seller
   (the buyer gets back the rest of its bid); otherwise that buyer is out for this step. Orders older than
   `order_duration` steps (50) are cancelled and their escrow returned. Each seller's trades are counted
   per price in a price history that decays by 0.995 per step.
3. **Gather** (actions `4P + 2 .. 4P + 5`: left, right, up, down): in a uniformly random order, each
   agent moves one cell if the cell is on the map, not water, not another agent's house and free
   (`move_labour` 1), then every agent collects the resource units on its cell, moved or not
   (`collect_labour` 1 each).
4. **Taxes**: the planner's rates count at each period's first step (its moves at other steps are checked
   and ignored; `infos` show the rates in force). At the period's last step each agent's income is its coin
   (held plus in escrow) minus its coin after the previous collection; it owes `sum_b rate_b *
   clip(income - cutoff_b, 0, cutoff_{b+1} - cutoff_b)` over the brackets with cutoffs
   `[0, 9700, 39475, 84200, 160725, 204100, 510300] / usd_scaling` coin (the 2018 US federal brackets,
   scaled by 1000), pays `min(coin in hand, due)` (never from escrow) and receives an equal share of the
   revenue. An episode that ends inside a period collects nothing for it.
5. **Regrowth**: every empty source cell grows a unit of its resource with probability
   `resource_regen_prob` (0.01), also under an agent (collected at its next step).

Action 0 is a no-op. Masked actions are accepted and do nothing, as in the AI Economist: building
without resources, bidding more than the coin in hand, moving into water.

**Skills and starts.** `fixed_four_skill_and_loc=True` (both presets): the skill ranks get the expected
order statistics of N clipped Pareto(4) skills times `build_payment` (for N = 4: 11.33, 13.27, 16.47, 22.25
coin per house, the AI Economist's own Monte Carlo estimate) and start in the corners - the least skilled
top right, then bottom left, top left, the most skilled bottom right - the ranks being a new random
permutation of the agents each episode. Otherwise each agent draws a skill `s` (`skill_distribution`:
`"pareto"` Pareto(4) in numpy's Lomax form, `"lognormal"` lognormal(-1, 0.5), `"none"`), earns
`min(max_skill_multiplier, (max_skill_multiplier - 1) s + 1) * build_payment` per house, and starts on a
uniformly random free land cell.

### Utilities and rewards
Agent `i` has the isoelastic utility `U_i = (c_i^(1 - eta) - 1) / (1 - eta) - energy_cost * L_i` of its coin
`c_i` (held plus escrow) and cumulative labour `L_i` (`eta` 0.23, `energy_cost` 0.21); its reward is the
change of `U_i` over the step, so its return is `U_i(T) - U_i(0)`. The planner's reward is the change of
`equality x mean coin`, the AI Economist's `coin_eq_times_productivity`, with equality `1 - G N / (N - 1)`
and Gini `G = sum_ij |c_i - c_j| / (2 N sum c)`.

### Money accounting
Building pays coin from outside the economy; trades move coin and goods between agents; taxes and the
lump sum are transfers of the contract layer (agent -> planner, planner -> agent; ledger keys
`transfer_out` / `transfer_in`), so the ledger shows every collection and the planner's net transfer is 0
(budget balance). An agent's `own_reward` in the ledger is its coin change from building and trading
(pre-tax); `welfare` is the coin built this step. The planner's move is a policy (`PolicyTerms`), never a
payment.

### Observation Space
Agents (the AI Economist's observation, egocentric): `map` is the `(2R+1) x (2R+1)` window centred on
the agent, channels `[stone, wood, house, water, stone source, wood source, inside the map, house owner,
agent]` (the last two 0 for none, 1 for the observer, `j + 2` for agent `j`). `flat` holds, in the AI
Economist's order (`game.agent_feature_names()`): build payment / `build_payment`, skill; the other agents'
open asks and bids per price, the market rates, the agent's own asks and bids, the price histories (x 0.01);
gathering bonus (0); the rates in force, first-day and tax-day flags, the sorted incomes of the last period
/ period, the agent's current marginal rate, the period's phase, time / horizon; coin, stone and wood in
hand (x 0.01); column / W, row / H. `action_mask` marks the actions that can take effect.

Planner: `map` is the whole map `(8, H, W)`: the six map channels, house owners and agents (`j + 2`).
`flat` (`game.planner_feature_names()`): all open asks and bids per price, the market rates and price
histories, the rates in force, first-day and tax-day flags, the sorted incomes of the last period, phase and
time, three zeros (the planner's own inventory), then per agent: its current marginal rate, last period's
income / period and marginal rate, coin, stone and wood in hand (x 0.01), column / W, row / H.

### Outcomes and infos
No payment is outcome-contingent (taxes are rules on income): `infos[agent]["outcome"]` is -1 and
`infos["principal_0"]["outcomes"]` all -1. Every player: `productivity` (sum of coin), `equality`,
`equality_times_productivity` (the meta-gradient paper's objective; its designer's reward is 0.01 x this).
Agents: `coin`, `stone`, `wood` (held plus escrow), `coin_in_hand`, `labour`, `utility`, `build_payment`, `built` (this
step), `tax_paid` and `lump_sum` (this step). Planner: `tax_revenue`, `trades` (this step), `rate_k` in force.

### Fixed planners
Plug-in policies `planner(observation) -> rates` (one observation or a batch): `free_market_planner()`
(no taxes), `us_federal_planner()` (2018 rates `[0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37]`) and
`SaezPlanner(game)` (the AI Economist's Saez-formula tax model: random rates until 500 samples,
then the bracket-averaged Saez rates from the observed incomes, marginal rates and a running
elasticity estimate); `make_planner(name, game)`. Use them with the agents-only view,
`AgentsOnlyParallelEnv(env_id, principal_policy=us_federal_planner())`, or on the batched API.

### Checked against the AI Economist
`benchmarks/gtb_crosscheck.py` plays scripted episodes (random masked actions, trade-heavy and
build-heavy scripts, random skills and starts, random and US-federal rates; 980 steps with 246 trades
and 20 houses) in the `ai-economist` 1.7.1 simulator and here, replaying the reference's random draws, and
compares every step: inventories, escrow, coin, labour, positions, action masks, all observations, income,
tax due, tax paid, lump sum (through the ledger), utilities and rewards all agree (floats to 1e-9, the
rest exactly); so do the Saez rates and elasticity on 12 sample buffers. Output: `docs/results/gather_trade_build.md`.

### Deviations from the AI Economist
* Random numbers come from the suite's per-environment streams: the same distributions, other draws
  (hence the replay in the cross-check).
* With `fixed_four_skill_and_loc` the `build_skill` feature is the skill that gives the agent's payment
  (`(multiplier - 1) / (max_skill_multiplier - 1)`); the AI Economist shows an unrelated Pareto draw there.
* Before the first step no rates are in force: the rate features read 0 (the AI Economist shows the last
  rates it was given).
* The planner's move is the 7 rates in `[0, 1]` (the meta-gradient paper's `tax_model="external"`), not the
  AI Economist's discrete rate indices; its map is the whole map (the paper's code fed the planner agent 3's
  egocentric view by mistake).
* Observations are a nested dict with `uint8` maps (the AI Economist's are `float32` with separate
  `world-map` and `world-idx_map`); the mask is under `action_mask`, the observation under `observation`.
* Not implemented (unused by the paper's configuration): Gather's bonus-gathering skill, the energy-cost and
  tax-rate annealing schedules (training devices), other planner rewards, multi-action mode, full
  observability, other scenarios and dense logs.

### Arguments
```python
contract_envs.make("parallel", "contract_envs/gather_trade_build-v0", preset="paper", layout=None,
                   n_agents=None, horizon=None, period_length=None, fixed_four_skill_and_loc=None,
                   skill_distribution="pareto", max_skill_multiplier=3.0, build_payment=10.0,
                   build_labour=10.0, starting_coin=10.0, max_bid_ask=10, max_num_orders=5,
                   order_duration=50, order_labour=0.25, move_labour=1.0, collect_labour=1.0,
                   resource_regen_prob=0.01, isoelastic_eta=0.23, energy_cost=0.21, observation_range=5,
                   usd_scaling=1000.0, render_mode=None)
```
`None` takes the preset's value. `layout`: a name of `LAYOUTS` or a list of equal-length row strings of
`w` (wood source), `s` (stone source), `#` (water), `.` (land). Integers: `n_agents >= 2`, `horizon`,
`period_length`, `max_bid_ask`, `max_num_orders`, `order_duration >= 1`, `observation_range >= 0`. Reals:
`max_skill_multiplier >= 1`, `build_payment`, `build_labour`, `starting_coin`, `order_labour`, `move_labour`,
`collect_labour`, `energy_cost >= 0`, `resource_regen_prob` in `[0, 1]`, `isoelastic_eta` in `[0, 1)`,
`usd_scaling > 0`. `fixed_four_skill_and_loc=True` needs the Pareto skills and land in the four corners. A bad
value raises `ValueError` naming the argument and its allowed range. `render_mode`: `"ansi"` (text),
`"rgb_array"` (numpy drawing, no display needed: the map, and a panel with the rates in force, each agent's
inventory, labour and open orders, the order books, the last collection's taxes and productivity x equality)
or `"human"` (prints the text frame each step).

### Version History
* v0: Initial release.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

import contract_envs.games._draw as _draw
from contract_envs.checks import check_choice, check_int, check_optional_int, check_real
from contract_envs.contracts import PolicyTerms, Settlement
from contract_envs.core.game import SIMULTANEOUS, Game, GameState, Transition
from contract_envs.games._incentive_common import gini_equality
from contract_envs.rng import BatchedStreams

# the exact reference of this game, for its documentation page (where the optimum is and how to compute it)
EXACT_OPTIMUM = (
    "None (no optimal tax schedule is computed for this economy; the planner is scored on productivity x "
    "equality of the agents' coin; fixed planners to compare with: `free_market_planner`, "
    "`us_federal_planner`, `SaezPlanner`)"
)

# --------------------------------------------------------------------------- constants
RESOURCES = ("stone", "wood")  # the AI-Economist's sorted collectible resources (map channels, trade books)
US_FEDERAL_CUTOFFS_USD = (0.0, 9700.0, 39475.0, 84200.0, 160725.0, 204100.0, 510300.0)
US_FEDERAL_2018_RATES = (0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37)
MOVES = ((0, -1), (0, 1), (-1, 0), (1, 0))  # left, right, up, down as (row, column) steps
_INT64_MAX = np.iinfo(np.int64).max
MAP_CHANNELS = ("stone", "wood", "house", "water", "stone_source", "wood_source")
PRICE_DECAY = 0.995  # per-step decay of the trade-price histories (AI-Economist ContinuousDoubleAuction)
OBS_SCALE = 0.01  # inventory and price-history scaling of the observations (AI-Economist inv_scale)

# Layouts: one string per map row; "w" wood source, "s" stone source, "#" water, "." empty land.
LAYOUTS: dict[str, tuple[str, ...]] = {
    # The AI-Economist's 15x15 "pure and mixed" layout (env-pure_and_mixed-15x15), re-entered by hand:
    # a wood-and-stone quarter top left, a wood quarter bottom left, stone bottom right, water walls.
    "pure_and_mixed_15x15": (
        "www....#.......",
        "wss....#.......",
        "www....#.......",
        "www....#.......",
        "wss............",
        "sws............",
        ".......#.......",
        "####..####..###",
        ".......#.......",
        "www....#....s..",
        ".ww.........ss.",
        "www..........ss",
        "w.w....#.......",
        "w......#.......",
        ".......#.....s.",
    ),
    # A small map for tests and quick learning runs: wood and stone within a few steps of every corner.
    "small_7x7": (
        "ww...ss",
        "w.....s",
        "...#...",
        "..###..",
        "...#...",
        "s.....w",
        "ss...ww",
    ),
}

PRESETS: dict[str, dict[str, Any]] = {
    # Yang et al. (AAMAS 2022), config_foundation_ppo.py: the 15x15 map, 4 agents, fixed skills and corners.
    "paper": {
        "layout": "pure_and_mixed_15x15",
        "n_agents": 4,
        "horizon": 100,
        "period_length": 10,
        "fixed_four_skill_and_loc": True,
    },
    # Fast: a 7x7 map, episodes of 30 steps with 3 tax periods; same rules and skills.
    "small": {
        "layout": "small_7x7",
        "n_agents": 4,
        "horizon": 30,
        "period_length": 10,
        "fixed_four_skill_and_loc": True,
    },
}
SKILL_DISTRIBUTIONS = ("pareto", "lognormal", "none")


def parse_layout(layout: str | tuple[str, ...] | list[str], owner: str = "gather_trade_build") -> np.ndarray:
    """A layout (a name in :data:`LAYOUTS` or rows of ``w s # .``) as int8 ``[H, W]``: 0 land, 1 wood, 2 stone,
    3 water."""
    if isinstance(layout, str):
        check_choice("layout", layout, list(LAYOUTS), owner=owner)
        rows = LAYOUTS[layout]
    elif isinstance(layout, (tuple, list)) and layout and all(isinstance(r, str) for r in layout):
        rows = tuple(layout)
    else:
        raise ValueError(f"{owner}: layout must be one of {list(LAYOUTS)} or a list of row strings, got {layout!r}")
    width = len(rows[0])
    if width < 2 or len(rows) < 2 or any(len(r) != width for r in rows):
        raise ValueError(f"{owner}: layout rows must all have the same length >= 2 (at least 2 rows), got {rows!r}")
    codes = {".": 0, "w": 1, "s": 2, "#": 3}
    bad = sorted({ch for r in rows for ch in r} - set(codes))
    if bad:
        raise ValueError(f"{owner}: layout characters must be in {sorted(codes)}, got {bad}")
    return np.array([[codes[ch] for ch in r] for r in rows], dtype=np.int8)


def bracket_tax(income: np.ndarray, rates: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
    """Tax due on ``income [B, N]`` at marginal ``rates [B, K]`` above ``cutoffs [K]`` (0 for income <= 0)."""
    sizes = np.append(np.diff(cutoffs), np.inf)
    in_bracket = np.minimum(np.maximum(income[..., None] - cutoffs, 0.0), sizes)  # [B, N, K]
    return (in_bracket * rates[:, None, :]).sum(axis=-1)


def marginal_rate(income: np.ndarray, rates: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
    """The rate of the bracket that ``income`` ``[B, N]`` falls in (0 for negative income)."""
    bracket = np.searchsorted(cutoffs, income, side="right") - 1  # [B, N], -1 below 0
    rate = np.take_along_axis(rates, np.maximum(bracket, 0), axis=1)
    return np.where(bracket >= 0, rate, 0.0)


def _sum_agents(x: np.ndarray, axis: int) -> np.ndarray:
    """``x.sum(axis)`` over a short agents axis: the same sequential order as numpy's sum over a non-last axis (so
    the same bits), without the per-row overhead of its reduction over a short axis."""
    n = x.shape[axis]
    if n > 16:
        return x.sum(axis=axis)
    take = lambda i: x[(slice(None),) * axis + (i,)]  # noqa: E731
    out = take(0) + take(1)
    for i in range(2, n):
        out += take(i)
    return out


def isoelastic_utility(coin: np.ndarray, labour: np.ndarray, eta: float, energy_cost: float) -> np.ndarray:
    """``(coin^(1 - eta) - 1) / (1 - eta) - energy_cost * labour`` (AI-Economist, ``0 <= eta < 1``)."""
    return (np.power(coin, 1.0 - eta) - 1.0) / (1.0 - eta) - energy_cost * labour


def ranked_skills(n_agents: int, max_skill_multiplier: float, payment: float) -> np.ndarray:
    """Build payments of the skill ranks (ascending) for ``fixed_four_skill_and_loc``.

    The AI-Economist estimates the mean of each order statistic of ``n`` clipped Pareto(4) skills by
    Monte Carlo (100 000 draws of numpy's legacy generator seeded 1); the same estimate is used here
    so that the payments agree with it to the last digit."""
    draws = np.random.RandomState(1).pareto(4, size=(100_000, n_agents))
    skills = np.minimum(max_skill_multiplier, (max_skill_multiplier - 1) * draws + 1)
    return np.sort(skills, axis=1).mean(axis=0) * payment


def ranked_corners(n_agents: int, height: int, width: int) -> list[tuple[int, int]]:
    """Start cells of the skill ranks (ascending): worst top right, then bottom left, top left, best bottom right;
    ranks are split into four groups, each filling its corner along the rows (AI-Economist ``layout_from_file``)."""
    corners = ((0, width - 1), (height - 1, 0), (0, 0), (width - 1, width - 1))
    signs = ((1, -1), (-1, 1), (1, 1), (-1, -1))
    groups = np.floor(np.arange(n_agents) * (4 / n_agents)).astype(int)
    filled, cells = [0, 0, 0, 0], []
    for g in groups:
        k = filled[g]
        (r0, c0), (sr, sc) = corners[g], signs[g]
        cells.append((r0 + sr * (k // 4), c0 + sc * (k % 4)))
        filled[g] += 1
    return cells


class OutputBuffers:
    """Arrays handed out as observations, reused once nobody but this pool holds them.

    A fresh multi-megabyte array per step costs as much in page faults as filling it. An array whose only
    references are this pool's (no observation dict, view, tensor or buffer of the caller keeps it, checked by
    its reference count) is overwritten in place instead; callers that keep observations get fresh arrays."""

    def __init__(self, keep: int = 3) -> None:
        self.keep = keep
        self.pools: dict[tuple, list[np.ndarray]] = {}

    def get(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        pool = self.pools.setdefault((shape, np.dtype(dtype).str), [])
        for array in pool:
            if sys.getrefcount(array) <= 3:  # the pool's list, this loop's name and getrefcount's argument
                return array
        array = np.empty(shape, dtype=dtype)
        if len(pool) < self.keep:
            pool.append(array)
        return array

    def __getstate__(self) -> dict:
        return {"keep": self.keep, "pools": {}}  # copies of the game start with empty pools


class PaddedScratch:
    """Zero-padded copies of map planes ``[B, C, H + 2v, W + 2v]`` (uint8; only their inside is ever written, so the
    border stays 0) and a view of every ``s``-cell row segment of them as one ``s``-byte item, so that the
    ``s x s`` windows around many cells are gathered ``s`` rows at a time (several times faster than gathering
    from a sliding-window view); kept between calls, copies of the game start without them."""

    def __init__(self) -> None:
        self.arrays: tuple[np.ndarray, np.ndarray] | None = None

    def get(self, shape: tuple[int, int, int, int], side: int) -> tuple[np.ndarray, np.ndarray]:
        """The planes and their row segments ``[planes.size - ..., s]`` (item ``[o, y]``: the ``s`` bytes from flat
        offset ``o + y * (W + 2v)``)."""
        if self.arrays is None or self.arrays[0].shape != shape:
            planes = np.zeros(shape, dtype=np.uint8)
            width = shape[-1]
            rows = np.ndarray(
                (planes.size - (side - 1) * width - side + 1, side), f"V{side}", planes, strides=(1, width)
            )
            self.arrays = planes, rows
        return self.arrays

    def __getstate__(self) -> dict:
        return {"arrays": None}


# --------------------------------------------------------------------------- state
@dataclass
class GatherTradeBuildState(GameState):
    """Per environment (leading axis ``B``; ``N`` agents, resources stone/wood, ``K`` order slots per agent and
    resource, ``P`` price levels, ``T`` tax brackets):

    * map: ``resource [B, 2, H, W]`` (1 where a unit lies), ``house_owner [B, H, W]`` (-1: no house);
    * agents: ``pos [B, N, 2]`` (row, column), ``inventory`` and ``escrow [B, N, 3]`` (coin, stone, wood; escrow
      holds what open orders set aside), ``labour [B, N]`` (cumulative), ``build_payment`` and ``build_skill [B, N]``;
    * market: ``order_kind [B, 2, N, K]`` (0 none, 1 bid, 2 ask), ``order_price``, ``order_age``,
      ``price_history [B, 2, N, P]`` (each seller's decayed count of sales per price);
    * taxes: ``rates [B, T]`` in force, ``last_coin [B, N]`` (coin after the last collection), ``last_income``,
      ``last_marginal_rate [B, N]`` and ``last_tax_paid [B, N]`` (of the last collection), ``tax_paid [B, N]`` and
      ``lump_sum [B]`` (this step),
      ``collected [B]`` (this step ended a tax period);
    * objectives: ``utility [B, N]``, ``planner_metric [B]`` (equality x mean coin, the planner's reward's level);
    * step records: ``built [B, N]``, ``trades [B]``.
    """

    resource: np.ndarray
    house_owner: np.ndarray
    pos: np.ndarray
    inventory: np.ndarray
    escrow: np.ndarray
    labour: np.ndarray
    build_payment: np.ndarray
    build_skill: np.ndarray
    order_kind: np.ndarray
    order_price: np.ndarray
    order_age: np.ndarray
    price_history: np.ndarray
    rates: np.ndarray
    last_coin: np.ndarray
    last_income: np.ndarray
    last_marginal_rate: np.ndarray
    last_tax_paid: np.ndarray
    tax_paid: np.ndarray
    lump_sum: np.ndarray
    collected: np.ndarray
    utility: np.ndarray
    planner_metric: np.ndarray
    built: np.ndarray
    trades: np.ndarray

    def __post_init__(self) -> None:
        self.cache: dict[str, Any] = {}  # order-book histograms shared by the agents' and planner's observations


# --------------------------------------------------------------------------- the game
class GatherTradeBuildGame(Game):
    """Batched Gather-Trade-Build economy with a bracket-tax planner (see the module docstring)."""

    name = "gather_trade_build"
    timing = SIMULTANEOUS
    principal_in_welfare = False
    render_modes = ("ansi", "human", "rgb_array")

    def __init__(
        self,
        num_envs: int = 1,
        preset: str = "paper",
        layout: str | tuple[str, ...] | None = None,
        n_agents: int | None = None,
        horizon: int | None = None,
        period_length: int | None = None,
        fixed_four_skill_and_loc: bool | None = None,
        skill_distribution: str = "pareto",
        max_skill_multiplier: float = 3.0,
        build_payment: float = 10.0,
        build_labour: float = 10.0,
        starting_coin: float = 10.0,
        max_bid_ask: int = 10,
        max_num_orders: int = 5,
        order_duration: int = 50,
        order_labour: float = 0.25,
        move_labour: float = 1.0,
        collect_labour: float = 1.0,
        resource_regen_prob: float = 0.01,
        isoelastic_eta: float = 0.23,
        energy_cost: float = 0.21,
        observation_range: int = 5,
        usd_scaling: float = 1000.0,
    ) -> None:
        owner = self.name
        check_choice("preset", preset, list(PRESETS), owner=owner)
        p = PRESETS[preset]
        self.preset = preset
        self.layout = parse_layout(p["layout"] if layout is None else layout, owner)
        n = check_int("n_agents", p["n_agents"] if n_agents is None else n_agents, 2, 250, owner=owner)
        horizon = check_optional_int("horizon (steps per episode)", horizon, 1, owner=owner) or p["horizon"]
        period = check_optional_int("period_length (steps per tax period)", period_length, 1, owner=owner)
        self.period = p["period_length"] if period is None else period
        fixed = p["fixed_four_skill_and_loc"] if fixed_four_skill_and_loc is None else fixed_four_skill_and_loc
        if not isinstance(fixed, (bool, np.bool_)):
            raise ValueError(f"{owner}: fixed_four_skill_and_loc must be True or False, got {fixed!r}")
        self.fixed_four = bool(fixed)
        self.skill_distribution = check_choice("skill_distribution", skill_distribution, SKILL_DISTRIBUTIONS, owner)
        if self.fixed_four and self.skill_distribution != "pareto":
            raise ValueError(f"{owner}: fixed_four_skill_and_loc=True needs skill_distribution='pareto'")
        self.max_skill_multiplier = check_real("max_skill_multiplier", max_skill_multiplier, 1.0, owner=owner)
        self.payment = check_real("build_payment", build_payment, 0.0, owner=owner)
        self.build_labour = check_real("build_labour", build_labour, 0.0, owner=owner)
        self.starting_coin = check_real("starting_coin", starting_coin, 0.0, owner=owner)
        self.max_bid_ask = check_int("max_bid_ask", max_bid_ask, 1, 1000, owner=owner)
        self.max_num_orders = check_int("max_num_orders", max_num_orders, 1, 1000, owner=owner)
        self.order_duration = check_int("order_duration", order_duration, 1, 10**6, owner=owner)
        self.order_labour = check_real("order_labour", order_labour, 0.0, owner=owner)
        self.move_labour = check_real("move_labour", move_labour, 0.0, owner=owner)
        self.collect_labour = check_real("collect_labour", collect_labour, 0.0, owner=owner)
        self.regen_prob = check_real("resource_regen_prob", resource_regen_prob, 0.0, 1.0, owner=owner)
        self.eta = check_real("isoelastic_eta", isoelastic_eta, 0.0, 1.0, high_open=True, owner=owner)
        self.energy_cost = check_real("energy_cost", energy_cost, 0.0, owner=owner)
        self.view = check_int("observation_range", observation_range, 0, 100, owner=owner)
        self.usd_scaling = check_real("usd_scaling", usd_scaling, 0.0, low_open=True, owner=owner)
        self.cutoffs = np.asarray(US_FEDERAL_CUTOFFS_USD) / self.usd_scaling
        self.n_prices = self.max_bid_ask + 1

        height, width = self.layout.shape
        self.height, self.width = height, width
        self.water = self.layout == 3
        self.sources = np.stack([self.layout == 2, self.layout == 1])  # [2, H, W]: stone, wood
        self.source_cells = [np.flatnonzero(self.sources[r]) for r in range(2)]
        self.n_source_cells = sum(len(c) for c in self.source_cells)
        if (~self.water).sum() < n:
            raise ValueError(f"{owner}: the layout has {(~self.water).sum()} land cells, fewer than n_agents={n}")
        if self.fixed_four:
            self.corner_cells = ranked_corners(n, height, width)
            for r, c in self.corner_cells:
                if not (0 <= r < height and 0 <= c < width) or self.water[r, c]:
                    raise ValueError(
                        f"{owner}: fixed_four_skill_and_loc places an agent at ({r}, {c}), which is water or off "
                        f"the {height}x{width} map; use a layout with land in the corners or fixed_four=False"
                    )
            self.ranked_payments = ranked_skills(n, self.max_skill_multiplier, self.payment)

        # actions: 0 no-op, 1 build, then for stone and wood: buy at price 0..P-1, sell at price 0..P-1, then 4 moves
        self.action_build = 1
        self.action_trade = 2
        self.action_move = 2 + 4 * self.n_prices
        k = len(self.cutoffs)
        terms = PolicyTerms((k,), 0.0, 1.0, label="tax rates")
        super().__init__(num_envs, n, self.action_move + 4, terms, horizon, transfers=True)
        self._decode_tables()
        self._observation_tables()

    # ------------------------------------------------------------------ tables
    def _decode_tables(self) -> None:
        """Per action: its trade resource (-1: none), whether it is a sale, its price and its move (-1: none)."""
        a = np.arange(self.n_actions)
        trade = (a >= self.action_trade) & (a < self.action_move)
        idx = np.where(trade, a - self.action_trade, 0)
        self._trade_resource = np.where(trade, idx // (2 * self.n_prices), -1)
        self._trade_sell = trade & ((idx // self.n_prices) % 2 == 1)
        self._trade_price = np.where(trade, idx % self.n_prices, 0)
        self._move = np.where(a >= self.action_move, a - self.action_move, -1)
        self._age_span = self.order_duration + 2
        self._steps = np.asarray(MOVES + ((0, 0),))  # per move (and none): the (row, column) step
        self._not_self = ~np.eye(self.n_agents, dtype=bool)
        # cells where a house can stand (no source, no water), flat [H * W]
        self._buildable = ~(self.sources[0] | self.sources[1] | self.water).reshape(-1)

    def _observation_tables(self) -> None:
        n, k, p = self.n_agents, len(self.cutoffs), self.n_prices
        h, w, v = self.height, self.width, self.view
        side = 2 * v + 1
        self.agent_flat_size = 15 + 10 * p + k + n
        self.planner_flat_size = 9 + 6 * p + k + n + 8 * n
        # Egocentric maps: the static channels (water, sources, in-bounds) of the window around every cell are
        # precomputed ``[H, W, 9, s, s]`` (dynamic channels zero) and taken per agent; stone and wood are gathered
        # from a padded copy of the resource planes, row segments at a time; houses and agents, few, are scattered.
        padded = np.zeros((len(MAP_CHANNELS) + 3, h + 2 * v, w + 2 * v), dtype=np.uint8)
        padded[3, v : v + h, v : v + w] = self.water
        padded[4, v : v + h, v : v + w] = self.sources[0]
        padded[5, v : v + h, v : v + w] = self.sources[1]
        padded[6, v : v + h, v : v + w] = 1
        windows = np.lib.stride_tricks.sliding_window_view(padded, (side, side), axis=(1, 2))  # [9, H, W, s, s]
        self._static_windows = np.ascontiguousarray(windows.transpose(1, 2, 0, 3, 4)).reshape(h * w, 9, side, side)
        self._planner_static = np.stack([self.water, self.sources[0], self.sources[1]]).astype(np.uint8)
        self._padded = PaddedScratch()
        self._buffers = OutputBuffers()
        # the cell each move leads to from each cell (flat index), -1 where it leaves the map or enters water
        cells = np.arange(h * w)
        rr, cc = cells // w, cells % w
        self._neighbour = np.full((h * w, 4), -1, dtype=np.int64)
        for m, (dr, dc) in enumerate(MOVES):
            tr, tc = rr + dr, cc + dc
            ok = (tr >= 0) & (tr < h) & (tc >= 0) & (tc < w)
            ok[ok] &= ~self.water[tr[ok], tc[ok]]
            self._neighbour[ok, m] = tr[ok] * w + tc[ok]
        idx_high = n + 1
        self.agent_observation_space = spaces.Dict(
            {
                "observation": spaces.Dict(
                    {
                        "map": spaces.Box(0, idx_high, (len(MAP_CHANNELS) + 3, side, side), dtype=np.uint8),
                        "flat": spaces.Box(-np.inf, np.inf, (self.agent_flat_size,), dtype=np.float32),
                    }
                ),
                "action_mask": spaces.Box(0, 1, (self.n_actions,), dtype=np.int8),
            }
        )
        self.principal_observation_space = spaces.Dict(
            {
                "map": spaces.Box(0, idx_high, (len(MAP_CHANNELS) + 2, h, w), dtype=np.uint8),
                "flat": spaces.Box(-np.inf, np.inf, (self.planner_flat_size,), dtype=np.float32),
            }
        )
        size = (len(MAP_CHANNELS) + 2) * h * w + self.planner_flat_size
        self.state_space = spaces.Box(-np.inf, np.inf, (size,), dtype=np.float32)

    def agent_feature_names(self) -> list[str]:
        """The name of every entry of an agent's ``flat`` observation (the AI-Economist's sorted keys)."""
        p, names = self.n_prices, ["build_payment", "build_skill"]
        for key in ("available_asks", "available_bids"):
            names += [f"{key}_{r}_{q}" for r in RESOURCES for q in range(p)]
        names += [f"market_rate_{r}" for r in RESOURCES]
        for key in ("my_asks", "my_bids", "price_history"):
            names += [f"{key}_{r}_{q}" for r in RESOURCES for q in range(p)]
        names += ["bonus_gather_prob"] + [f"rate_{k}" for k in range(len(self.cutoffs))]
        names += ["is_first_day", "is_tax_day"] + [f"last_income_sorted_{i}" for i in range(self.n_agents)]
        names += ["marginal_rate", "tax_phase", "time", "coin", "stone", "wood", "col", "row"]
        return names

    def planner_feature_names(self) -> list[str]:
        """The name of every entry of the planner's ``flat`` observation."""
        p, names = self.n_prices, []
        for key in ("all_asks", "all_bids"):
            names += [f"{key}_{r}_{q}" for r in RESOURCES for q in range(p)]
        names += [f"market_rate_{r}" for r in RESOURCES]
        names += [f"price_history_{r}_{q}" for r in RESOURCES for q in range(p)]
        names += [f"rate_{k}" for k in range(len(self.cutoffs))] + ["is_first_day", "is_tax_day"]
        names += [f"last_income_sorted_{i}" for i in range(self.n_agents)]
        names += ["tax_phase", "time", "planner_coin", "planner_stone", "planner_wood"]
        for i in range(self.n_agents):
            names += [
                f"agent_{i}_{key}"
                for key in ("marginal_rate", "last_income", "last_marginal_rate", "coin", "stone", "wood", "col", "row")
            ]
        return names

    # ------------------------------------------------------------------ state
    def init_state(self) -> GatherTradeBuildState:
        b, n, k, p = self.num_envs, self.n_agents, self.max_num_orders, self.n_prices
        h, w, t = self.height, self.width, len(self.cutoffs)
        return GatherTradeBuildState(
            t=np.zeros(b, dtype=np.int64),
            resource=np.zeros((b, 2, h, w), dtype=np.int8),
            house_owner=np.full((b, h, w), -1, dtype=np.int16),
            pos=np.zeros((b, n, 2), dtype=np.int64),
            inventory=np.zeros((b, n, 3)),
            escrow=np.zeros((b, n, 3)),
            labour=np.zeros((b, n)),
            build_payment=np.zeros((b, n)),
            build_skill=np.zeros((b, n)),
            order_kind=np.zeros((b, 2, n, k), dtype=np.int8),
            order_price=np.zeros((b, 2, n, k), dtype=np.int64),
            order_age=np.zeros((b, 2, n, k), dtype=np.int64),
            price_history=np.zeros((b, 2, n, p)),
            rates=np.zeros((b, t)),
            last_coin=np.zeros((b, n)),
            last_income=np.zeros((b, n)),
            last_marginal_rate=np.zeros((b, n)),
            last_tax_paid=np.zeros((b, n)),
            tax_paid=np.zeros((b, n)),
            lump_sum=np.zeros(b),
            collected=np.zeros(b, dtype=bool),
            utility=np.zeros((b, n)),
            planner_metric=np.zeros(b),
            built=np.zeros((b, n), dtype=bool),
            trades=np.zeros(b, dtype=np.int64),
        )

    def reset(self, state: GatherTradeBuildState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        n = self.n_agents
        state.cache.clear()
        u = rng.uniform(3 * n, env_idx)  # [E, 3N]: skill ranks, skills, start cells
        e = len(env_idx)
        state.resource[env_idx] = self.sources
        state.house_owner[env_idx] = -1
        for arr in (
            state.escrow,
            state.labour,
            state.order_kind,
            state.order_price,
            state.order_age,
            state.price_history,
            state.rates,
            state.last_income,
            state.last_marginal_rate,
            state.last_tax_paid,
            state.tax_paid,
            state.lump_sum,
            state.collected,
            state.built,
            state.trades,
        ):
            arr[env_idx] = 0
        state.inventory[env_idx] = 0.0
        state.inventory[env_idx, :, 0] = self.starting_coin
        if self.fixed_four:
            rank_of = np.argsort(np.argsort(u[:, :n], axis=1), axis=1)  # agent -> rank of a random permutation
            state.build_payment[env_idx] = self.ranked_payments[rank_of]
            multiplier = self.ranked_payments[rank_of] / self.payment if self.payment > 0 else np.ones((e, n))
            state.build_skill[env_idx] = (multiplier - 1.0) / max(self.max_skill_multiplier - 1.0, 1e-12)
            cells = np.asarray(self.corner_cells)[rank_of]  # [E, N, 2]
            state.pos[env_idx] = cells
        else:
            skill = self._draw_skills(u[:, n : 2 * n])
            multiplier = np.minimum(self.max_skill_multiplier, (self.max_skill_multiplier - 1.0) * skill + 1.0)
            if self.skill_distribution == "none":
                skill, multiplier = np.ones((e, n)), np.ones((e, n))
            state.build_skill[env_idx] = skill
            state.build_payment[env_idx] = multiplier * self.payment
            state.pos[env_idx] = self._random_cells(u[:, 2 * n :])
        coin = state.inventory[env_idx, :, 0]
        state.last_coin[env_idx] = coin
        state.utility[env_idx] = isoelastic_utility(coin, 0.0, self.eta, self.energy_cost)
        state.planner_metric[env_idx] = gini_equality(coin) * coin.mean(axis=1)

    def _draw_skills(self, u: np.ndarray) -> np.ndarray:
        if self.skill_distribution == "pareto":  # numpy's pareto(4): Lomax, (1 - u)^(-1/4) - 1
            return np.power(1.0 - u, -0.25) - 1.0
        if self.skill_distribution == "lognormal":  # lognormal(-1, 0.5) by the inverse normal CDF
            from scipy.special import ndtri

            return np.exp(-1.0 + 0.5 * ndtri(np.clip(u, 1e-12, 1 - 1e-12)))
        return np.ones_like(u)

    def _random_cells(self, u: np.ndarray) -> np.ndarray:
        """Distinct uniform land cells for the agents, one after the other (``u`` ``[E, N]``)."""
        e, n = u.shape
        free = np.broadcast_to(~self.water.reshape(-1), (e, self.height * self.width)).copy()
        out = np.zeros((e, n, 2), dtype=np.int64)
        rows = np.arange(e)
        for i in range(n):
            count = free.sum(axis=1)
            pick = np.minimum((u[:, i] * count).astype(np.int64), count - 1)
            cell = (np.cumsum(free, axis=1) <= pick[:, None]).sum(axis=1)
            free[rows, cell] = False
            out[:, i, 0], out[:, i, 1] = cell // self.width, cell % self.width
        return out

    # ------------------------------------------------------------------ randomness a replay can override
    def movement_order(self, state: GatherTradeBuildState, rng: BatchedStreams) -> np.ndarray:
        """The order ``[B, N]`` in which agents move this step (a uniform permutation per environment)."""
        return np.argsort(rng.uniform(self.n_agents), axis=1, kind="stable")

    def regrowth_draws(self, state: GatherTradeBuildState, rng: BatchedStreams) -> list[np.ndarray]:
        """Per resource, whether each source cell regrows a unit if empty (``[B, cells]`` bools)."""
        u = rng.uniform(self.n_source_cells)
        split = len(self.source_cells[0])
        return [u[:, :split] < self.regen_prob, u[:, split:] < self.regen_prob]

    # ------------------------------------------------------------------ rules
    def step(
        self,
        state: GatherTradeBuildState,
        actions: np.ndarray,
        principal_action: np.ndarray | None,
        rng: BatchedStreams,
    ) -> Transition:
        b, n = actions.shape
        state.cache.clear()
        coin_before = state.inventory[:, :, 0] + state.escrow[:, :, 0]
        self._build(state, actions)
        self._trade(state, actions)
        self._gather(state, actions, self.movement_order(state, rng))
        transfers = self._taxes(state, principal_action)
        self._regrow(state, self.regrowth_draws(state, rng))
        income = state.inventory[:, :, 0] + state.escrow[:, :, 0] - coin_before
        return Transition(income, np.zeros(b), None, np.zeros(b, dtype=bool), transfers)

    def _build(self, s: GatherTradeBuildState, actions: np.ndarray) -> None:
        r, c = s.pos[:, :, 0], s.pos[:, :, 1]
        can = self.can_build(s)
        build = (actions == self.action_build) & can
        s.built = build
        if not build.any():
            return
        s.inventory[:, :, 1:] -= build[:, :, None]
        s.inventory[:, :, 0] += np.where(build, s.build_payment, 0.0)
        s.labour += np.where(build, self.build_labour, 0.0)
        bb, ii = np.nonzero(build)
        s.house_owner[bb, r[bb, ii], c[bb, ii]] = ii

    def can_build(self, s: GatherTradeBuildState) -> np.ndarray:
        """``[B, N]``: the agent holds a unit of wood and of stone and stands on empty land (no resource, source,
        water or house)."""
        b, hw = s.pos.shape[0], self.height * self.width
        cell = s.pos[:, :, 0] * self.width + s.pos[:, :, 1]
        at = np.arange(b)[:, None] * hw + cell  # flat index into [B, H * W]
        empty = self._buildable[cell] & (s.house_owner.reshape(-1)[at] < 0)
        resource = s.resource.reshape(-1)
        at += at // hw * hw  # into [B, 2, H * W]: stone at ``at``, wood at ``at + hw``
        empty &= (resource[at] == 0) & (resource[at + hw] == 0)
        return empty & (s.inventory[:, :, 1] >= 1) & (s.inventory[:, :, 2] >= 1)

    def _open_orders(self, s: GatherTradeBuildState) -> np.ndarray:
        """Open orders per resource and agent ``[B, 2, N]``."""
        kind = s.order_kind
        if kind.shape[3] > 16:
            return (kind != 0).sum(axis=3)
        count = (kind[..., 0] != 0).astype(np.int64)
        for k in range(1, kind.shape[3]):
            count += kind[..., k] != 0
        return count

    def _trade(self, s: GatherTradeBuildState, actions: np.ndarray) -> None:
        s.price_history *= PRICE_DECAY
        s.trades = np.zeros(actions.shape[0], dtype=np.int64)
        resource = self._trade_resource[actions]  # [B, N], -1: no trade action
        if (resource >= 0).any():
            sell, price = self._trade_sell[actions], self._trade_price[actions]
            n_orders = self._open_orders(s)  # [B, 2, N]
            for r in range(2):
                mine = resource == r
                if not mine.any():
                    continue
                room = n_orders[:, r] < self.max_num_orders
                bid = mine & ~sell & room & (s.inventory[:, :, 0] >= price)
                ask = mine & sell & room & (s.inventory[:, :, 1 + r] > 0)
                new = bid | ask
                if not new.any():
                    continue
                bb, ii = np.nonzero(new)
                slot = np.argmax(s.order_kind[bb, r, ii] == 0, axis=1)  # first free slot
                s.order_kind[bb, r, ii, slot] = np.where(bid[bb, ii], 1, 2)
                s.order_price[bb, r, ii, slot] = price[bb, ii]
                s.order_age[bb, r, ii, slot] = 0
                escrowed = np.where(bid, price, 0.0)
                s.inventory[:, :, 0] -= escrowed
                s.escrow[:, :, 0] += escrowed
                s.inventory[:, :, 1 + r] -= ask
                s.escrow[:, :, 1 + r] += ask
                s.labour += np.where(new, self.order_labour, 0.0)
                self._match(s, r, np.flatnonzero(new.any(axis=1)))
        self._expire(s)

    def _match(self, s: GatherTradeBuildState, r: int, envs: np.ndarray) -> None:
        """The continuous double auction of resource ``r`` in the environments ``envs`` (those with a new order).

        The AI-Economist's matching walks the bids from the best (highest price, then oldest, then lowest agent
        index), drops a buyer for the step when its best bid is below every other agent's asks, and otherwise
        trades it with the best of those asks (lowest price, then oldest, then lowest index) at the price of
        the order placed first (the ask's on a tie), then starts over. A buyer below the others' asks stays
        below as orders leave the book, so here each round trades, in every environment at once, the best bid
        among the buyers whose best bid reaches another agent's best ask; an environment is done when none
        does. Books are uncrossed after every step, so only environments with a new order can trade."""
        n = self.n_agents
        span = self._age_span
        rank = np.arange(n)
        unset = _INT64_MAX
        kind, price, age = s.order_kind[envs, r], s.order_price[envs, r], s.order_age[envs, r]  # [E, N, K]
        bid_key = np.where(kind == 1, (price * span + age) * n + (n - 1 - rank)[:, None], -1)
        ask_key = np.where(kind == 2, (price * span + (span - 1 - age)) * n + rank[:, None], unset)
        k = kind.shape[2]
        while envs.size:
            slots = np.arange(len(envs) * n).reshape(-1, n) * k  # flat index of each (environment, agent)'s slot 0
            top_slot, low_slot = bid_key.argmax(axis=2), ask_key.argmin(axis=2)  # [E, N]
            top_key, low_key = bid_key.reshape(-1)[slots + top_slot], ask_key.reshape(-1)[slots + low_slot]
            by_ask = np.argsort(low_key, axis=1, kind="stable")[:, :2]  # the best and second-best asking agents
            best_other = np.where(by_ask[:, :1] == rank, by_ask[:, 1:2], by_ask[:, :1])  # [E, N]: seller for i
            other_key = low_key[np.arange(len(envs))[:, None], best_other]
            crossing = (top_key >= 0) & (other_key < unset) & (top_key // (span * n) >= other_key // (span * n))
            rows = np.flatnonzero(crossing.any(axis=1))
            if rows.size == 0:
                return
            buyer = np.where(crossing[rows], top_key[rows], -1).argmax(axis=1)
            seller = best_other[rows, buyer]
            bid_slot, ask_slot = top_slot[rows, buyer], low_slot[rows, seller]
            env = envs[rows]
            bid, ask = top_key[rows, buyer], other_key[rows, buyer]  # prices and ages are read off the keys
            bid_price, ask_price = bid // (span * n), ask // (span * n)
            first_ask = (bid // n) % span <= span - 1 - (ask // n) % span  # the ask's age >= the bid's
            deal = np.where(first_ask, ask_price, bid_price)
            s.inventory[env, buyer, 1 + r] += 1
            s.escrow[env, seller, 1 + r] -= 1
            s.escrow[env, buyer, 0] -= bid_price
            s.inventory[env, seller, 0] += deal
            s.inventory[env, buyer, 0] += bid_price - deal
            s.price_history[env, r, seller, deal] += 1
            s.order_kind[env, r, buyer, bid_slot] = 0
            s.order_kind[env, r, seller, ask_slot] = 0
            s.trades[env] += 1
            # the two orders leave the book: drop their keys and go on with the environments that traded
            bid_key, ask_key, done = bid_key[rows], ask_key[rows], np.arange(len(rows))
            bid_key[done, buyer, bid_slot] = -1
            ask_key[done, seller, ask_slot] = unset
            envs = env

    def _expire(self, s: GatherTradeBuildState) -> None:
        """Open orders age by one step; those older than ``order_duration`` return their escrow and close."""
        open_ = s.order_kind != 0
        if not open_.any():
            return
        s.order_age += open_
        expired = open_ & (s.order_age > self.order_duration)
        if not expired.any():
            return
        b, _, n, k = s.order_kind.shape
        slot = np.flatnonzero(expired)  # few: refunds per (environment, agent) by counting
        bb, rr, ii = slot // (2 * n * k), (slot // (n * k)) % 2, (slot // k) % n
        bid = s.order_kind.reshape(-1)[slot] == 1
        who = bb * n + ii
        refund = np.bincount(who[bid], s.order_price.reshape(-1)[slot[bid]], minlength=b * n).reshape(b, n)
        units = np.bincount(who[~bid] * 2 + rr[~bid], minlength=b * n * 2).reshape(b, n, 2)  # [B, N, 2]
        s.inventory[:, :, 0] += refund
        s.escrow[:, :, 0] -= refund
        s.inventory[:, :, 1:] += units
        s.escrow[:, :, 1:] -= units
        s.order_kind[expired] = 0

    def _gather(self, s: GatherTradeBuildState, actions: np.ndarray, order: np.ndarray) -> None:
        """Agents move in ``order`` (each onto a free, reachable neighbouring cell, else stays) and each collects
        every resource unit on its cell. Where no agent heads for another's cell or the same cell as another, the
        order cannot matter and all move at once; the other environments are played agent by agent."""
        b, n = actions.shape
        rows = np.arange(b)[:, None]
        move = self._move[actions]  # [B, N], -1: no move
        target = s.pos + self._steps[move]  # [B, N, 2]
        here = s.pos[..., 0] * self.width + s.pos[..., 1]
        cell = np.where(move >= 0, self._neighbour[here, move], -1)  # -1: no move, off the map or water
        house = s.house_owner.reshape(b, -1)[rows, cell]  # (cell -1 reads the last cell: masked next)
        want = (cell >= 0) & ((house < 0) | (house == np.arange(n)))
        cell = np.where(want, cell, -2 - np.arange(n))  # agents staying get distinct negative codes
        # tangled: an agent heads for another's cell or for the same cell as another
        tangled = (cell[:, :, None] == here[:, None, :]) | ((cell[:, :, None] == cell[:, None, :]) & self._not_self)
        tangled = tangled.reshape(b, -1).any(axis=1)
        simple = ~tangled[:, None]
        moved = want & simple
        s.pos[...] = np.where(moved[..., None], target, s.pos)
        s.labour += moved * self.move_labour
        pr, pc = s.pos[..., 0], s.pos[..., 1]
        units = s.resource[rows, :, pr, pc]  # [B, N, 2]
        got = (units >= 1) & simple[..., None]
        if got.any():
            s.inventory[:, :, 1:] += got
            s.resource[rows, :, pr, pc] = units - got
            s.labour += (got[..., 0].astype(np.int64) + got[..., 1]) * self.collect_labour
        if tangled.any():
            self._gather_in_order(s, np.flatnonzero(tangled), move, target, want, order)

    def _gather_in_order(self, s, envs, move, target, want, order) -> None:
        """One agent after the other, in ``order``, in the environments ``envs``."""
        for k in range(self.n_agents):
            i = order[envs, k]
            here = s.pos[envs, i]
            go = want[envs, i]
            if go.any():
                t = target[envs, i]
                free = ~((s.pos[envs, :, 0] == t[:, None, 0]) & (s.pos[envs, :, 1] == t[:, None, 1])).any(axis=1)
                ok = go & free
                s.pos[envs[ok], i[ok]] = t[ok]
                s.labour[envs, i] += ok * self.move_labour
                here = s.pos[envs, i]
            units = s.resource[envs, :, here[:, 0], here[:, 1]]  # [E, 2]
            if units.any():
                got = units >= 1
                s.inventory[envs, i, 1:] += got
                s.resource[envs, :, here[:, 0], here[:, 1]] = units - got
                s.labour[envs, i] += got.sum(axis=1) * self.collect_labour

    def _taxes(self, s: GatherTradeBuildState, rates: np.ndarray | None) -> np.ndarray:
        """Rates take effect at a period's first step; at its last step each agent pays ``min(coin, tax due)`` on
        the period's income and the revenue is split equally (transfers agent -> planner -> agents)."""
        b, n = s.labour.shape
        t = s.t
        first = (t % self.period) == 0
        if rates is not None and first.any():
            s.rates = np.where(first[:, None], rates, s.rates)
        s.collected = ((t + 1) % self.period) == 0
        s.tax_paid = np.zeros((b, n))
        s.lump_sum = np.zeros(b)
        transfers = np.zeros((b, n + 1, n + 1))
        if s.collected.any():
            coin = s.inventory[:, :, 0] + s.escrow[:, :, 0]
            income = coin - s.last_coin
            due = bracket_tax(income, s.rates, self.cutoffs)
            tax = np.where(s.collected[:, None], np.minimum(s.inventory[:, :, 0], due), 0.0)
            s.tax_paid = tax
            s.lump_sum = tax.sum(axis=1) / n
            transfers[:, :n, n] = tax
            transfers[:, n, :n] = s.lump_sum[:, None]
            c = s.collected[:, None]
            s.last_income = np.where(c, income, s.last_income)
            s.last_marginal_rate = np.where(c, marginal_rate(income, s.rates, self.cutoffs), s.last_marginal_rate)
            s.last_tax_paid = np.where(c, tax, s.last_tax_paid)
        return transfers

    def _regrow(self, s: GatherTradeBuildState, draws: list[np.ndarray]) -> None:
        for r in range(2):
            cells = self.source_cells[r]
            if cells.size == 0:
                continue
            flat = s.resource[:, r].reshape(s.resource.shape[0], -1)
            grown = draws[r] & (flat[:, cells] == 0)
            if grown.any():
                flat[:, cells] += grown.astype(np.int8)
                s.resource[:, r] = flat.reshape(s.resource.shape[0], self.height, self.width)

    def on_settlement(self, state: GatherTradeBuildState, settlement: Settlement) -> tuple[np.ndarray, np.ndarray]:
        """Taxes and redistribution move coin through the contract layer's transfers; rewards are the changes of
        each agent's isoelastic utility and of the planner's equality x mean coin (AI-Economist)."""
        n = self.n_agents
        state.cache.clear()
        if state.collected.any():
            coin = state.inventory[:, :, 0]
            coin -= settlement.transfer_out[:, :n]
            coin += settlement.transfer_in[:, :n]
            state.last_coin = np.where(state.collected[:, None], coin + state.escrow[:, :, 0], state.last_coin)
        total = state.inventory[:, :, 0] + state.escrow[:, :, 0]
        utility = isoelastic_utility(total, state.labour, self.eta, self.energy_cost)
        agent_reward = utility - state.utility
        state.utility = utility
        equality = state.cache["equality"] = gini_equality(total)  # the infos' too (same coin)
        metric = equality * total.mean(axis=1)
        principal_reward = metric - state.planner_metric
        state.planner_metric = metric
        return agent_reward, principal_reward

    # ------------------------------------------------------------------ observations
    def action_masks(self, s: GatherTradeBuildState) -> np.ndarray:
        """``[B, N, A]`` int8: the AI-Economist's masks (no-op always; build if possible; a bid at each price the
        agent can escrow with room in its book; asks if it holds the resource and has room; moves onto free,
        reachable cells). A masked action is accepted and does nothing, as in the AI-Economist."""
        b, n = s.labour.shape
        p = self.n_prices
        mask = self._buffers.get((b, n, self.n_actions), np.int8)
        mask[:, :, 0] = 1
        mask[:, :, 1] = self.can_build(s)
        room = self._open_orders(s) < self.max_num_orders  # [B, 2, N]
        can_pay = np.arange(p) <= s.inventory[:, :, 0:1]  # [B, N, P]
        for r in range(2):
            start = self.action_trade + 2 * p * r
            np.logical_and(can_pay, room[:, r, :, None], out=mask[:, :, start : start + p], casting="unsafe")
            mask[:, :, start + p : start + 2 * p] = (room[:, r] & (s.inventory[:, :, 1 + r] > 0))[:, :, None]
        here = s.pos[:, :, 0] * self.width + s.pos[:, :, 1]  # [B, N]
        target = self._neighbour[here]  # [B, N, 4], -1: off the map or water
        ok = target >= 0
        target = np.maximum(target, 0)
        flat_rows = np.arange(b)[:, None, None]
        house = s.house_owner.reshape(b, -1)[flat_rows, target]
        ok &= (house < 0) | (house == np.arange(n)[None, :, None])
        occupied = np.zeros((b, self.height * self.width), dtype=bool)
        occupied[np.arange(b)[:, None], here] = True
        ok &= ~occupied[flat_rows, target]
        mask[:, :, self.action_move :] = ok
        return mask

    def _books(self, s: GatherTradeBuildState) -> np.ndarray:
        """Open orders per (agent, asks/bids, resource, price): float32 ``[B, N, 2, 2, P]`` (asks first, as in the
        agents' observations)."""
        if "books" not in s.cache:
            b, _, n, k = s.order_kind.shape
            p = self.n_prices
            # one count per (agent, kind, resource, price), kind 2 (ask) first; free slots go to one extra cell
            row = (np.arange(b)[:, None, None] * n + np.arange(n)) * 2  # [B, 1, N]
            cell = ((row[..., None] + 2 - s.order_kind) * 2 + np.arange(2)[:, None, None]) * p + s.order_price
            size = b * n * 2 * 2 * p
            cell = np.where(s.order_kind == 0, size, cell).reshape(-1)
            count = np.bincount(cell, minlength=size + 1)[:size].reshape(b, n, 2, 2, p)
            s.cache["books"] = count.astype(np.float32)
        return s.cache["books"]

    def _book_histograms(self, s: GatherTradeBuildState) -> tuple[np.ndarray, np.ndarray]:
        """Open bids and asks per (resource, agent, price): ``[B, 2, N, P]`` each (views)."""
        books = self._books(s)
        return books[:, :, 1].transpose(0, 2, 1, 3), books[:, :, 0].transpose(0, 2, 1, 3)

    def _book_totals(self, s: GatherTradeBuildState) -> np.ndarray:
        """Open asks and bids per (resource, price) over all agents: ``[B, 2, 2, P]`` (asks first)."""
        if "totals" not in s.cache:
            s.cache["totals"] = _sum_agents(self._books(s), 1)
        return s.cache["totals"]

    def _market_rate(self, s: GatherTradeBuildState) -> tuple[np.ndarray, np.ndarray]:
        if "market" not in s.cache:
            net = _sum_agents(s.price_history, 2)  # [B, 2, P]
            rate = (net * np.arange(self.n_prices)).sum(axis=2) / np.maximum(0.001, net.sum(axis=2))
            s.cache["market"] = net, rate
        return s.cache["market"]

    def _tax_phase(self, s: GatherTradeBuildState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (s.t % self.period) + 1  # the AI-Economist's tax_cycle_pos before the coming step
        return (pos >= self.period).astype(np.float32), (pos == 1).astype(np.float32), pos / self.period

    def _current_marginal_rates(self, s: GatherTradeBuildState) -> np.ndarray:
        """Each agent's marginal rate at its income so far this period ``[B, N]`` (shared by both observations)."""
        if "marginal" not in s.cache:
            coin = s.inventory[:, :, 0] + s.escrow[:, :, 0]
            s.cache["marginal"] = marginal_rate(coin - s.last_coin, s.rates, self.cutoffs)
        return s.cache["marginal"]

    def observe_agents(self, state: GatherTradeBuildState, offers: np.ndarray | None) -> dict[str, Any]:
        s = state
        b, n = s.labour.shape
        p = self.n_prices
        books = self._books(s).reshape(b, n, 4 * p)  # the agent's own asks, then bids
        totals = self._book_totals(s).reshape(b, 1, 4 * p)
        net, rate = self._market_rate(s)
        tax_day, first_day, phase = self._tax_phase(s)
        per_env = np.concatenate(  # features every agent of an environment sees alike (cast once to float32)
            [
                net.reshape(b, 2 * p) * OBS_SCALE,
                np.zeros((b, 1)),  # bonus gather probability (no gathering skill)
                s.rates,
                first_day[:, None],
                tax_day[:, None],
                np.sort(s.last_income, axis=1) / self.period,
            ],
            axis=1,
            dtype=np.float32,
            casting="same_kind",
        )
        flat = self._buffers.get((b, n, self.agent_flat_size), np.float32)
        flat[:, :, 0] = s.build_payment / self.payment if self.payment > 0 else 1.0
        flat[:, :, 1] = s.build_skill
        j = 2 + 4 * p
        np.subtract(totals, books, out=flat[:, :, 2:j])  # the other agents' asks and bids
        flat[:, :, j : j + 2] = rate.astype(np.float32)[:, None]  # market rates
        j += 2
        flat[:, :, j : j + 4 * p] = books
        j += 4 * p
        flat[:, :, j : j + per_env.shape[1]] = per_env[:, None]  # price histories, ..., last incomes
        j += per_env.shape[1]
        flat[:, :, j] = self._current_marginal_rates(s)
        flat[:, :, j + 1] = phase[:, None]
        flat[:, :, j + 2] = (s.t / self.horizon)[:, None]
        flat[:, :, j + 3 : j + 6] = s.inventory * OBS_SCALE
        flat[:, :, j + 6] = s.pos[:, :, 1] / self.width  # column / W, row / H
        flat[:, :, j + 7] = s.pos[:, :, 0] / self.height
        assert j + 8 == self.agent_flat_size
        return {
            "observation": {"map": self._agent_maps(s), "flat": flat},
            "action_mask": self.action_masks(s),
        }

    def _houses(self, s: GatherTradeBuildState) -> tuple[np.ndarray, ...]:
        """Every house: environment, row, column and owner (1-D arrays; houses are few)."""
        if "houses" not in s.cache:
            cell = np.flatnonzero(s.house_owner.reshape(-1) >= 0)  # (3-D nonzero is many times slower)
            hb, rc = np.divmod(cell, self.height * self.width)
            hr, hc = np.divmod(rc, self.width)
            s.cache["houses"] = hb, hr, hc, s.house_owner.reshape(-1)[cell]
        return s.cache["houses"]

    def _agent_maps(self, s: GatherTradeBuildState) -> np.ndarray:
        """Egocentric windows ``[B, N, 9, 2v+1, 2v+1]`` uint8: the six map channels, an in-bounds channel, house
        owners and agent positions (0 none, 1 the observer, ``j + 2`` agent ``j``), as the AI-Economist's
        ``world-map`` and ``world-idx_map``."""
        b, n = s.labour.shape
        v, h, w = self.view, self.height, self.width
        side = 2 * v + 1
        r, c = s.pos[:, :, 0], s.pos[:, :, 1]
        out = self._buffers.get((b, n, len(MAP_CHANNELS) + 3, side, side), np.uint8)
        np.take(self._static_windows, r * w + c, axis=0, out=out, mode="clip")  # dynamic channels: 0
        planes, segments = self._padded.get((b, 2, h + 2 * v, w + 2 * v), side)  # stone and wood, padded
        planes[:, :, v : v + h, v : v + w] = s.resource.view(np.uint8)
        top_left = ((np.arange(b)[:, None, None] * 2 + np.arange(2)) * (h + 2 * v) + r[..., None]) * (w + 2 * v)
        window = segments[top_left + c[..., None]]  # [B, N, 2, s] rows of s bytes
        out[:, :, 0:2] = window.view(np.uint8).reshape(b, n, 2, side, side)
        hb, hr, hc, owner = self._houses(s)
        if hb.size:  # each house into the windows that see it; the observer's own read 1 in the owner channel
            dr, dc = hr[:, None] - r[hb] + v, hc[:, None] - c[hb] + v  # [houses, N]
            k, i = np.nonzero((dr >= 0) & (dr < side) & (dc >= 0) & (dc < side))
            hb, dr, dc = hb[k], dr[k, i], dc[k, i]
            out[hb, i, 2, dr, dc] = 1
            out[hb, i, 7, dr, dc] = np.where(owner[k] == i, 1, owner[k] + 2)
        # agents: 1 at the centre (the observer), j + 2 where another agent j stands relative to the observer i
        out[:, :, 8, v, v] = 1
        dr, dc = r[:, None, :] - r[:, :, None] + v, c[:, None, :] - c[:, :, None] + v  # [B, i, j]
        seen = np.flatnonzero((np.abs(dr - v) <= v) & (np.abs(dc - v) <= v) & self._not_self)
        bi, jj = np.divmod(seen, n)
        out[bi // n, bi % n, 8, dr.reshape(-1)[seen], dc.reshape(-1)[seen]] = jj + 2
        return out

    def observe_principal(self, state: GatherTradeBuildState) -> dict[str, np.ndarray]:
        s = state
        b, n = s.labour.shape
        p, t = self.n_prices, len(self.cutoffs)
        net, rate = self._market_rate(s)
        tax_day, first_day, phase = self._tax_phase(s)
        flat = self._buffers.get((b, self.planner_flat_size), np.float32)
        flat[:, : 4 * p] = self._book_totals(s).reshape(b, 4 * p)  # all asks, then all bids
        j = 4 * p
        flat[:, j : j + 2] = rate
        j += 2
        flat[:, j : j + 2 * p] = (net * OBS_SCALE).reshape(b, 2 * p)
        j += 2 * p
        flat[:, j : j + t] = s.rates
        j += t
        flat[:, j], flat[:, j + 1] = first_day, tax_day
        j += 2
        flat[:, j : j + n] = np.sort(s.last_income, axis=1) / self.period
        j += n
        flat[:, j], flat[:, j + 1] = phase, s.t / self.horizon
        flat[:, j + 2 : j + 5] = 0.0  # the planner's own (always empty) inventory: coin, stone, wood
        j += 5
        per_agent = np.empty((b, n, 8), dtype=np.float32)
        per_agent[:, :, 0] = self._current_marginal_rates(s)
        per_agent[:, :, 1] = s.last_income / self.period
        per_agent[:, :, 2] = s.last_marginal_rate
        per_agent[:, :, 3:6] = s.inventory * OBS_SCALE
        per_agent[:, :, 6] = s.pos[:, :, 1] / self.width
        per_agent[:, :, 7] = s.pos[:, :, 0] / self.height
        flat[:, j:] = per_agent.reshape(b, 8 * n)
        return {"map": self._planner_maps(s), "flat": flat}

    def _planner_maps(self, s: GatherTradeBuildState) -> np.ndarray:
        b, n = s.labour.shape
        out = self._buffers.get((b, len(MAP_CHANNELS) + 2, self.height, self.width), np.uint8)
        out[:, 0:2] = s.resource.view(np.uint8)
        np.greater_equal(s.house_owner, 0, out=out[:, 2].view(bool))
        out[:, 3:6] = self._planner_static
        np.add(s.house_owner, 2, out=out[:, 6], casting="unsafe")  # owner j + 2; no house: 1, cleared next
        np.multiply(out[:, 6], out[:, 2], out=out[:, 6])
        out[:, 7] = 0
        out[np.arange(b)[:, None], 7, s.pos[:, :, 0], s.pos[:, :, 1]] = np.arange(2, n + 2, dtype=np.uint8)
        return out

    def global_state(self, state: GatherTradeBuildState, offers: np.ndarray | None) -> np.ndarray:
        obs = self.observe_principal(state)
        b = obs["flat"].shape[0]
        return np.concatenate([obs["map"].reshape(b, -1).astype(np.float32), obs["flat"]], axis=1)

    def infos(self, state: GatherTradeBuildState) -> dict[str, dict[str, np.ndarray]]:
        s = state
        coin = s.inventory[:, :, 0] + s.escrow[:, :, 0]
        productivity = coin.sum(axis=1)
        equality = s.cache["equality"] if "equality" in s.cache else gini_equality(coin)
        common = {
            "productivity": productivity,
            "equality": equality,
            "equality_times_productivity": equality * productivity,
        }
        out: dict[str, dict[str, Any]] = {}
        for i in range(self.n_agents):
            out[f"agent_{i}"] = {
                **common,
                "coin": coin[:, i],
                "coin_in_hand": s.inventory[:, i, 0],
                "stone": s.inventory[:, i, 1] + s.escrow[:, i, 1],
                "wood": s.inventory[:, i, 2] + s.escrow[:, i, 2],
                "labour": s.labour[:, i],
                "utility": s.utility[:, i],
                "build_payment": s.build_payment[:, i],
                "built": s.built[:, i].astype(np.float64),
                "tax_paid": s.tax_paid[:, i],
                "lump_sum": s.lump_sum,
            }
        principal = {**common, "tax_revenue": s.tax_paid.sum(axis=1), "trades": s.trades.astype(np.float64)}
        principal.update({f"rate_{k}": s.rates[:, k] for k in range(s.rates.shape[1])})
        out["principal_0"] = principal
        return out

    # ------------------------------------------------------------------ rendering
    def render_ansi(self, state: GatherTradeBuildState, env_index: int, offers: np.ndarray | None = None) -> str:
        s, b = state, env_index
        grid = [["." for _ in range(self.width)] for _ in range(self.height)]
        for r in range(self.height):
            for c in range(self.width):
                if self.water[r, c]:
                    grid[r][c] = "#"
                elif s.house_owner[b, r, c] >= 0:
                    grid[r][c] = "H"
                elif s.resource[b, 0, r, c]:
                    grid[r][c] = "S"
                elif s.resource[b, 1, r, c]:
                    grid[r][c] = "W"
                elif self.sources[0, r, c]:
                    grid[r][c] = "s"
                elif self.sources[1, r, c]:
                    grid[r][c] = "w"
        for i in range(self.n_agents):
            grid[s.pos[b, i, 0]][s.pos[b, i, 1]] = str(i % 10)
        agents = "; ".join(
            f"agent_{i}: coin {s.inventory[b, i, 0] + s.escrow[b, i, 0]:.1f} stone "
            f"{s.inventory[b, i, 1] + s.escrow[b, i, 1]:g} wood {s.inventory[b, i, 2] + s.escrow[b, i, 2]:g} "
            f"labour {s.labour[b, i]:g}"
            for i in range(self.n_agents)
        )
        rates = np.array2string(s.rates[b], precision=2)
        rows = "\n".join("".join(row) for row in grid)
        return f"gather_trade_build: step {int(s.t[b])}, rates {rates}\n{rows}\n{agents}"

    def render_rgb(self, state: GatherTradeBuildState, env_index: int, offers: np.ndarray | None = None) -> np.ndarray:
        """RGB frame uint8: the map (``cell_pixels`` per cell from the top-left: water blue, wood and stone
        sources tinted, units of wood as trees and of stone as rocks, houses in their owner's colour, agents as
        numbered discs) with a legend under it, and beside it the planner's bracket rates in force (with each
        agent's income so far this period marked in its bracket), each agent's coin, stone, wood, labour,
        houses and open orders, the two order books, the last collection's taxes and lump sum, and
        productivity x equality (the planner's score). ``offers`` is unused: the planner's move is a policy."""
        s, b, n = state, env_index, self.n_agents
        px = self.cell_pixels
        board_h, board_w = self.height * px, self.width * px
        panel_x = max(board_w, _GTB_LEGEND_WIDTH) + 16
        canvas = _draw.Canvas(self._frame_height, panel_x + _GTB_PANEL_WIDTH)
        canvas.paste(0, 0, self._board_background())
        sprites = _gtb_sprites(px)
        coin = s.inventory[b, :, 0] + s.escrow[b, :, 0]
        for r, kind in ((1, "wood"), (0, "stone")):
            for y, x in np.argwhere(s.resource[b, r] > 0):
                _stamp(canvas, y * px, x * px, sprites[kind])
        for y, x in np.argwhere(s.house_owner[b] >= 0):
            owner = int(s.house_owner[b, y, x])
            _stamp(canvas, y * px, x * px, sprites["house"], _draw.colour_of(owner))
        for i in range(n):
            y, x = s.pos[b, i]
            cy, cx = y * px + px / 2, x * px + px / 2
            canvas.disc(cy, cx, 0.42 * px, _draw.colour_of(i))
            canvas.ring(cy, cx, 0.42 * px, _draw.INK, 1.5)
            canvas.text(cy - _draw.GLYPH_HEIGHT / 2, cx + 0.5, str(i), (255, 255, 255), align="center", bold=True)
        self._draw_legend(canvas, board_h + 8)

        # the panel: header and the planner's rates
        t, period = int(s.t[b]), self.period
        x0, y = panel_x, 4
        canvas.text(y, x0, f"Gather-Trade-Build  step {t}/{self.horizon}", bold=True)
        n_periods = -(-self.horizon // period)
        k = (t - 1) // period  # the tax period of the last step played
        steps = f"tax period {k + 1}/{n_periods} (steps {k * period + 1}-{min((k + 1) * period, self.horizon)})"
        if t == 0:
            status = "no rates yet: the planner sets them at step 1"
        elif t % period == 0 or t >= self.horizon:
            status = f"{steps} is over; its rates:"
        else:
            status = f"{steps}: rates in force"
        canvas.text(y + 16, x0, status, _draw.MUTED)
        y += 36
        income = coin - s.last_coin[b]
        bracket = np.maximum((income[:, None] >= self.cutoffs).sum(axis=1) - 1, 0)
        bar_x, bar_len = x0 + 84, 150
        for j, low in enumerate(self.cutoffs):
            high = f"-{_bracket_label(self.cutoffs[j + 1])}" if j + 1 < len(self.cutoffs) else "+"
            canvas.text(y, x0, f"{_bracket_label(low)}{high}", _draw.MUTED)
            rate = float(s.rates[b, j])
            canvas.bar(y + 3, bar_x, rate, 1.0, bar_len, 8, _draw.PRINCIPAL_COLOUR)
            canvas.text(y, bar_x + bar_len + 6, f"{rate:.2f}", _draw.PRINCIPAL_COLOUR)
            here = np.flatnonzero(bracket == j)  # the agents whose income so far is in this bracket
            room = (x0 + _GTB_PANEL_WIDTH - (bar_x + bar_len + 40) - 30) // 12
            for m, i in enumerate(here[:room]):
                sx = bar_x + bar_len + 40 + 12 * m
                canvas.rect(y + 2, sx, y + 11, sx + 9, _draw.colour_of(int(i)))
            if len(here) > room:
                canvas.text(y, bar_x + bar_len + 40 + 12 * room, f"+{len(here) - room}", _draw.MUTED)
            y += 15
        canvas.text(y, x0, "brackets of income (coin); squares: agents' income so far", _draw.MUTED)
        y += 22

        # the agents
        houses = np.bincount(s.house_owner[b][s.house_owner[b] >= 0].ravel(), minlength=n)
        orders = (s.order_kind[b] != 0).sum(axis=(0, 2))
        stone = s.inventory[b, :, 1] + s.escrow[b, :, 1]
        wood = s.inventory[b, :, 2] + s.escrow[b, :, 2]
        for i in range(n):
            colour = _draw.colour_of(i)
            canvas.rect(y + 2, x0, y + 12, x0 + 10, colour)
            line = (
                f"agent_{i}  coin {coin[i]:.1f}  stone {_draw.fmt(stone[i])}  wood {_draw.fmt(wood[i])}"
                f"  labour {_draw.fmt(float(s.labour[b, i]))}"
            )
            canvas.text(y, x0 + 14, line)
            open_orders = int(orders[i])
            detail = (
                f"{_draw.fmt(float(s.build_payment[b, i]))} coin a house, {int(houses[i])} built, "
                f"{open_orders} open order{'s' * (open_orders != 1)}"
            )
            canvas.text(y + 14, x0 + 14, detail, _draw.MUTED)
            y += 31

        # the market
        y += 2
        bids, asks = self._book_histograms(s)  # [B, 2, N, P]
        history, mean_price = self._market_rate(s)
        canvas.text(y, x0, f"order books ({int(s.trades[b])} trades this step)")
        y += 15
        prices = np.arange(self.n_prices)
        for r in (1, 0):
            n_bids, n_asks = bids[b, r].sum(axis=0), asks[b, r].sum(axis=0)  # [P]
            nb, na = int(n_bids.sum()), int(n_asks.sum())
            bid = f"{nb} bid{'s' * (nb != 1)}" + (f" best {int(prices[n_bids > 0].max())}" if nb else "")
            ask = f"{na} ask{'s' * (na != 1)}" + (f" best {int(prices[n_asks > 0].min())}" if na else "")
            price = f"mean price {mean_price[b, r]:.1f}" if history[b, r].sum() > 0 else "no trades yet"
            line = f"{RESOURCES[r]:<5}  {bid}, {ask}; {price}"
            canvas.text(y, x0 + 8, line, _draw.MUTED)
            y += 14

        # taxes and the score
        y += 8
        collected = (t // period) * period
        if collected == 0:
            canvas.text(y, x0, "taxes: none collected yet (at the end of each period)")
        else:
            paid = s.last_tax_paid[b]
            canvas.text(
                y, x0, f"taxes at step {collected}: {paid.sum():.2f} collected, {paid.sum() / n:.2f} back to each"
            )
            slot, per_line = self._tax_slots
            for i in range(n):
                row, col = divmod(i, per_line)
                canvas.text(y + 15 * (row + 1), x0 + 8 + slot * col, f"agent_{i} {paid[i]:.2f}", _draw.colour_of(i))
        equality = float(gini_equality(coin[None])[0])
        productivity = float(coin.sum())
        canvas.text(
            y + 15 * self._tax_rows + 21,
            x0,
            f"productivity {productivity:.1f} x equality {equality:.2f} = {productivity * equality:.1f}",
            _draw.PRINCIPAL_COLOUR,
            bold=True,
        )
        return canvas.pixels

    @property
    def cell_pixels(self) -> int:
        """Pixels per map cell of the ``rgb_array`` frames: the map fills about 360 pixels (16 to 32 per cell)."""
        return int(min(32, max(16, 360 // max(self.height, self.width))))

    @property
    def _frame_height(self) -> int:
        board = self.height * self.cell_pixels + 8 + _GTB_LEGEND_HEIGHT
        panel = 36 + 15 * len(self.cutoffs) + 22 + 31 * self.n_agents + 2 + 15 + 28 + 8 + 15 * self._tax_rows + 41
        return max(board, panel)

    @property
    def _tax_slots(self) -> tuple[int, int]:
        """Width in pixels of each agent's entry in the frame's line of taxes paid, and entries per line."""
        slot = _draw.text_width(f"agent_{self.n_agents - 1} 0000.00") + 12
        return slot, max(1, (_GTB_PANEL_WIDTH - 8) // slot)

    @property
    def _tax_rows(self) -> int:
        return -(-self.n_agents // self._tax_slots[1])

    def _board_background(self) -> np.ndarray:
        """The map without units, houses or agents: land, water, source tints and the cell grid (cached)."""
        px = self.cell_pixels
        key = (self.layout.shape, self.layout.tobytes(), px)
        if key in _board_cache:
            return _board_cache[key]
        codes = np.where(self.water, 3, np.where(self.sources[1], 1, np.where(self.sources[0], 2, 0)))
        image = np.take(np.array(_GTB_GROUND, dtype=np.uint8), codes, axis=0)
        image = np.repeat(np.repeat(image, px, axis=0), px, axis=1)
        grid = np.array(_GTB_GRID, dtype=np.uint8)
        land = np.repeat(np.repeat(~self.water, px, axis=0), px, axis=1)
        lines = np.zeros(land.shape, dtype=bool)
        lines[::px, :] = lines[:, ::px] = True
        lines[-1, :] = lines[:, -1] = True
        image[lines & land] = grid
        _board_cache[key] = image
        return image

    def _draw_legend(self, canvas: _draw.Canvas, y: int) -> None:
        x, size = 4, 16
        small = _gtb_sprites(size)
        items = (
            ("water", _GTB_GROUND[3], None),
            ("wood", _GTB_GROUND[1], small["wood"]),
            ("stone", _GTB_GROUND[2], small["stone"]),
            ("house", _GTB_GROUND[0], small["house"]),
        )
        for label, ground, sprite in items:
            canvas.rect(y, x, y + size, x + size, ground)
            if sprite is not None:
                _stamp(canvas, y, x, sprite, _draw.MUTED if label == "house" else None)
            x = canvas.text(y + 2, x + size + 4, label, _draw.MUTED) + 14
        canvas.text(y + 22, 4, "pale cells: sources (a unit regrows there)", _draw.MUTED)
        canvas.text(y + 36, 4, "discs: agents; houses in their owner's colour", _draw.MUTED)


# --------------------------------------------------------------------------- drawing
_GTB_GROUND = ((241, 236, 222), (214, 233, 198), (222, 223, 229), (120, 170, 214))  # land, wood, stone, water
_GTB_GRID = (225, 218, 200)
_GTB_PANEL_WIDTH = 440
_GTB_LEGEND_HEIGHT = 50
_GTB_LEGEND_WIDTH = 280  # the legend's longest line
_TREE, _TRUNK, _ROCK, _ROCK_EDGE = (46, 118, 52), (120, 84, 52), (138, 140, 150), (88, 90, 100)
_HOUSE_KEY = (4, 5, 6)  # the placeholder colour of a house's walls and roof in its sprite
_sprite_cache: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
_board_cache: dict[tuple, np.ndarray] = {}  # the empty map's image per (layout, cell size)


def _bracket_label(cutoff: float) -> str:
    """A bracket's cutoff for a frame: ``39.475`` -> ``39.5``."""
    return _draw.fmt(round(float(cutoff), 1), 1)


def _gtb_sprites(px: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per cell size: ``wood``, ``stone`` and ``house`` as (mask ``[px, px]``, colours ``[px, px, 3]``); the house
    is drawn in a placeholder colour that :func:`_stamp` replaces with its owner's."""
    if px in _sprite_cache:
        return _sprite_cache[px]
    key = (1, 2, 3)
    out = {}
    tree = _draw.Canvas(px, px, key)
    tree.rect(0.55 * px, 0.44 * px, 0.85 * px, 0.56 * px, _TRUNK)
    tree.disc(0.42 * px, 0.5 * px, 0.27 * px, _TREE)
    rock = _draw.Canvas(px, px, key)
    rock.disc(0.55 * px, 0.5 * px, 0.28 * px, _ROCK_EDGE)
    rock.disc(0.55 * px, 0.5 * px, 0.28 * px - 1.5, _ROCK)
    house = _draw.Canvas(px, px, key)
    top, eave, bottom = 0.14 * px, 0.46 * px, 0.86 * px
    house.rect(eave, 0.22 * px, bottom, 0.78 * px, _HOUSE_KEY)
    for yy in range(int(top), int(eave) + 1):  # the roof: rows widening from the ridge to the eaves
        half = 0.36 * px * (yy - top) / max(eave - top, 1.0)
        house.rect(yy, 0.5 * px - half, yy + 1, 0.5 * px + half + 1, _HOUSE_KEY)
    house.rect(0.64 * px, 0.43 * px, bottom, 0.57 * px, (255, 255, 255))  # the door
    for name, sprite in (("wood", tree), ("stone", rock), ("house", house)):
        mask = np.any(sprite.pixels != np.array(key, dtype=np.uint8), axis=-1)
        out[name] = (mask, sprite.pixels)
    _sprite_cache[px] = out
    return out


def _stamp(canvas: _draw.Canvas, y: int, x: int, sprite: tuple[np.ndarray, np.ndarray], colour=None) -> None:
    """Draw a sprite with its top-left at ``(y, x)``; ``colour`` replaces a house's placeholder colour."""
    mask, pixels = sprite
    h, w = mask.shape
    block = canvas.pixels[y : y + h, x : x + w]
    if colour is None:
        block[mask] = pixels[mask]
        return
    keyed = np.all(pixels == np.array(_HOUSE_KEY, dtype=np.uint8), axis=-1)
    block[mask & ~keyed] = pixels[mask & ~keyed]
    block[keyed] = colour


# --------------------------------------------------------------------------- fixed planners
class FixedRatesPlanner:
    """A planner that sets the same bracket rates every period: ``planner(observation) -> rates``.

    Works on one observation (rates ``[K]``) or a batch (``[B, K]``), as the role views and the batched API
    hand them; :func:`free_market_planner` and :func:`us_federal_planner` are the two fixed schedules of the
    AI-Economist's experiments."""

    def __init__(self, rates) -> None:
        self.rates = np.asarray(rates, dtype=np.float32)
        if self.rates.ndim != 1 or not np.all((self.rates >= 0) & (self.rates <= 1)):
            raise ValueError(f"FixedRatesPlanner: rates must be a vector in [0, 1], got {rates!r}")

    def __call__(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        flat = observation["flat"]
        return self.rates.copy() if flat.ndim == 1 else np.tile(self.rates, (flat.shape[0], 1))


def free_market_planner(game: GatherTradeBuildGame | None = None) -> FixedRatesPlanner:
    """No taxes (the AI-Economist's ``disable_taxes``)."""
    return FixedRatesPlanner(np.zeros(len(US_FEDERAL_CUTOFFS_USD)))


def us_federal_planner(game: GatherTradeBuildGame | None = None) -> FixedRatesPlanner:
    """The 2018 US federal single-filer rates on the scaled brackets (``us-federal-single-filer-2018-scaled``)."""
    return FixedRatesPlanner(US_FEDERAL_2018_RATES)


class SaezPlanner:
    """The AI-Economist's adaptation of the Saez (2001) optimal-income-tax formula (its ``tax_model="saez"``).

    At the first step of every tax period it reads, from the planner's observation, each agent's income and
    marginal rate of the period that just ended, keeps the last ``buffer_size`` such pairs per environment
    (over episodes too), and sets

    * random rates, uniform in ``[rate_min, rate_max]``, until the buffer has held ``buffer_size`` samples;
    * then, per income bin (``n_bins`` bins up to the top bracket's cutoff, plus the top bin),
      ``tau(z) = (1 - G(z)) / (1 - G(z) + A(z) e)`` with ``G`` the average welfare weight (``1/z``,
      ``pareto_weight_type="inverse_income"``, or 1) of incomes above ``z``, ``A(z)`` the local Pareto
      parameter of the income distribution and ``e`` the elasticity of income with respect to ``1 - tau``:
      ``fixed_elasticity`` or a running (0.98) average of the OLS slope of ``log z`` on ``log(1 - tau)``;
      empty bins are interpolated and the schedule is averaged over each bracket.

    With a batch of environments the samples of all of them go to one buffer of ``buffer_size`` per environment
    (the AI-Economist's global buffer over replicas) and all get the same rates."""

    def __init__(
        self,
        game: GatherTradeBuildGame,
        buffer_size: int = 500,
        n_bins: int = 100,
        fixed_elasticity: float | None = None,
        pareto_weight_type: str = "inverse_income",
        rate_min: float = 0.0,
        rate_max: float = 1.0,
        seed: int | None = 0,
    ) -> None:
        self.cutoffs = np.asarray(game.cutoffs, dtype=np.float64)
        self.period = game.period
        self.buffer_size = check_int("buffer_size", buffer_size, 1, owner="SaezPlanner")
        self.n_bins = check_int("n_bins", n_bins, 2, owner="SaezPlanner")
        self.fixed_elasticity = (
            None if fixed_elasticity is None else check_real("fixed_elasticity", fixed_elasticity, 0.0)
        )
        self.pareto_weight_type = check_choice(
            "pareto_weight_type", pareto_weight_type, ["inverse_income", "uniform"], owner="SaezPlanner"
        )
        self.rate_min = check_real("rate_min", rate_min, 0.0, 1.0, owner="SaezPlanner")
        self.rate_max = check_real("rate_max", rate_max, self.rate_min, 1.0, owner="SaezPlanner")
        names = game.planner_feature_names()
        n = game.n_agents
        self._first_day, self._time = names.index("is_first_day"), names.index("time")
        self._income = [names.index(f"agent_{i}_last_income") for i in range(n)]
        self._rate = [names.index(f"agent_{i}_last_marginal_rate") for i in range(n)]
        self.edges = np.linspace(0.0, self.cutoffs[-1], self.n_bins + 1)
        self.bin_sizes = np.append(np.diff(self.edges), np.inf)
        self.bracket_sizes = np.append(np.diff(self.cutoffs), np.inf)
        self.rng = np.random.default_rng(seed)
        self.samples: list[tuple[float, float]] = []
        self.exploring = True  # until the buffer first holds buffer_size samples
        self.elasticity, self.log_z0 = 0.5, 0.0
        self.rates = np.zeros(len(self.cutoffs))

    def __call__(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        flat = np.atleast_2d(observation["flat"]).astype(np.float64)
        first = flat[:, self._first_day] == 1
        if first.any():
            done = first & (flat[:, self._time] > 0)  # a period has just ended in these environments
            incomes = flat[done][:, self._income] * self.period
            rates = flat[done][:, self._rate]
            self.samples += list(zip(incomes.reshape(-1).tolist(), rates.reshape(-1).tolist(), strict=True))
            capacity = self.buffer_size * flat.shape[0]
            del self.samples[: max(0, len(self.samples) - capacity)]
            self.rates = self.new_rates()
        out = np.tile(self.rates.astype(np.float32), (flat.shape[0], 1))
        return out[0] if observation["flat"].ndim == 1 else out

    def new_rates(self) -> np.ndarray:
        """The next period's bracket rates from the buffer (random until it has held ``buffer_size`` samples)."""
        self.exploring = self.exploring and len(self.samples) < self.buffer_size
        if self.exploring:
            return self.rng.uniform(self.rate_min, self.rate_max, len(self.cutoffs))
        data = np.asarray(self.samples)
        self.elasticity, self.log_z0 = self._estimate_elasticity(data[:, 0], data[:, 1])
        elasticity = self.elasticity if self.fixed_elasticity is None else self.fixed_elasticity
        g, a = self._welfare_weights_and_pareto(data[:, 0])
        taus = _interpolate_gaps((1.0 - g) / (1.0 - g + a * elasticity + 1e-9))
        return np.clip(self._bracket_average(taus), self.rate_min, self.rate_max)

    def _estimate_elasticity(self, z: np.ndarray, tau: np.ndarray) -> tuple[float, float]:
        keep = (z > 0) & (tau < 1)
        z, tau = z[keep], tau[keep]
        if len(z) < 10 or np.std(tau) < 1e-6:
            return self.elasticity, self.log_z0
        x = np.stack([np.log(np.maximum(1.0 - tau, 1e-9)), np.ones_like(tau)], axis=1)
        slope, log_z0 = np.linalg.solve(x.T @ x, x.T @ np.log(np.maximum(z, 1e-9)))
        return 0.02 * max(float(slope), 0.0) + 0.98 * self.elasticity, float(log_z0)

    def _cumulative(self, counts: np.ndarray, below: int, above: int) -> tuple[np.ndarray, np.ndarray]:
        total = counts.sum() + below + above
        pz = np.append(counts, above) / total
        cum = np.minimum(np.cumsum(pz) + below / total, 1.0)
        return pz, cum

    def _welfare_weights_and_pareto(self, incomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per bin (and the top bin): ``G``, the mean welfare weight of incomes at or above it, and ``A``."""
        edges = self.edges
        counts = np.histogram(incomes, bins=edges)[0].astype(np.float64)
        below, above = incomes[incomes < edges[0]], incomes[incomes > edges[-1]]
        mid = 0.5 * (edges[:-1] + edges[1:])
        if self.pareto_weight_type == "inverse_income":
            weight = lambda z: 1.0 / np.maximum(1.0, z)  # noqa: E731
        else:
            weight = np.ones_like
        per_bin = counts * weight(mid)
        w_below = weight(np.maximum(below, 0)).sum() if below.size else 0.0
        w_above = weight(above).sum() if above.size else 0.0
        density = np.append(per_bin, w_above) / (per_bin.sum() + w_below + w_above + 1e-9)
        pz, cum = self._cumulative(counts, below.size, above.size)
        mean_weight_above = np.cumsum(density[::-1])[::-1] / (np.cumsum(pz[::-1])[::-1] + 1e-9)
        g = np.append(0.5 * (mean_weight_above[:-1] + mean_weight_above[1:]), mean_weight_above[-1])
        p_geq = np.clip(1.0 - cum + 0.5 * pz, 0.0, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.where(pz[:-1] > 0, mid * pz[:-1] / (p_geq[:-1] + 1e-9) / np.diff(edges), np.nan)
        top = float(above.mean() / (above.mean() - edges[-1] + 1e-9)) if above.size else 0.0
        return g, np.append(a, top)

    def _bracket_average(self, taus: np.ndarray) -> np.ndarray:
        """Average marginal rate of the binned schedule over each bracket; the top bracket takes the top bin's."""
        out, previous = [], 0.0
        for b, income in enumerate(self.cutoffs[1:]):
            due = max(0.0, float((taus * np.minimum(self.bin_sizes, np.maximum(0.0, income - self.edges))).sum()))
            out.append((due - previous) / self.bracket_sizes[b])
            previous = due
        return np.array([*out, taus[-1]])


def _interpolate_gaps(taus: np.ndarray) -> np.ndarray:
    """Fill NaN runs linearly between the real values around them (from 0 before the first real value)."""
    out, last_value, last_index = taus.copy(), 0.0, -1
    for i, tau in enumerate(taus):
        if np.isnan(tau):
            continue
        if i - last_index > 1:
            out[last_index + 1 : i] = np.linspace(last_value, tau, i - last_index + 1)[1:-1]
        last_value, last_index = float(tau), i
    return out


PLANNERS = {"free_market": free_market_planner, "us_federal": us_federal_planner, "saez": SaezPlanner}


def make_planner(name: str, game: GatherTradeBuildGame, **kwargs: Any) -> Any:
    """A fixed planner by name: ``free_market``, ``us_federal`` or ``saez`` (keyword arguments go to it)."""
    check_choice("planner", name, list(PLANNERS), owner="gather_trade_build")
    return PLANNERS[name](game, **kwargs)


# The registry's entry: the game for ``num_envs`` environments (arguments in the module docstring).
make_game = GatherTradeBuildGame
