"""
# Tax Economy (TaxLite and a multi-period bracket-tax economy)

This environment is part of the *incentive-design* environments of contract-envs (see
[Escape Room](escape_room.md) for the timing and [Concepts](../concepts.md) for the ledger).

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/tax_economy-v1")` |
| Actions | Mixed: planner Continuous (Box), agents Discrete |
| Parallel API | Yes |
| AEC API | native: planner first, then each agent; rates held until the last agent moves (agents never see them) |
| Manual Control | No |
| Agents | `['principal_0', 'agent_0', ..., 'agent_3']` |
| Agents | 5 (planner + 4 workers with skills 1, 2, 4, 8) |
| Action Shape | planner `(K,)` (K = 1 flat rate, 7 brackets), agent `()` |
| Action Values | planner `[0, 1]` (marginal tax rates), agent `{0, ..., 10}` (labour) |
| Observation Shape | agent `(4 + K,)`, planner `(2N + 1 + K,)` |
| Observation Values | skill, coin, income of the current tax period, period phase, rates in force |
| State Shape | `(2N + 1 + K,)` |

An exactly solvable stand-in for the Gather-Trade-Build tax economy of adaptive incentive design
(Yang et al., AAMAS 2022, on Salesforce's AI-Economist Foundation): `N` workers choose labour, a
planner sets taxes whose revenue is redistributed lump-sum, and the planner is scored on
productivity x equality.

### Rules
Worker `i` with skill `w_i` chooses labour `l_i in {0, ..., max_labour}` each step and earns coin
`z_i = w_i l_i`. Taxes are levied per tax period of `period_length` steps on the coin earned in
that period: `tax_due_i = sum_b rate_b * clip(income_i - cutoff_b, 0, cutoff_{b+1} - cutoff_b)` (top
bracket unbounded); the tax paid is `min(coin_i, tax_due_i)` and the revenue is split equally among
the `N` workers (lump sum) at the period's last step (or at the episode's last step if the episode
ends inside a period). Rates: the planner's action at the first step of a period sets the rates for
that period; its actions at the other steps are ignored (the `infos` say which rates are in force).
The planner's move is a policy (`PolicyTerms((K,), 0, 1, label="tax rates")`), not a payment: the
validated rates `[B, K]` are handed to the rules, which keep the rates in force in the state.
* `tax_model="flat"` (TaxLite, default): one rate `t` (`K = 1`, cutoffs `[0]`); defaults
  `horizon = 1`, `period_length = 1`: the one-shot game `c_i = (1 - t) z_i + t sum_j z_j / N`.
* `tax_model="us_federal"`: the 7 US-federal 2018 brackets scaled by 1/1000 as in the AI-Economist
  (`usd_scaling` 1e3): cutoffs `[0, 9.7, 39.475, 84.2, 160.725, 204.1, 510.3]` coin (`K = 7`);
  defaults `horizon = 100`, `period_length = 10` (10 tax periods, A's GTB setting). The 2018
  rates `[0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37]` are `US_FEDERAL_2018_RATES`.

### Utilities and rewards
Isoelastic utility of coin with linear labour cost (AI-Economist): worker `i` has
`U_i = (coin_i^(1 - eta) - 1) / (1 - eta) - kappa * L_i`, `eta = isoelastic_eta = 0.23`,
`kappa = labour_cost = 0.8` (TaxLite's constant; the AI-Economist's 0.21 makes everyone work the
maximum for `t <= 0.7`, a degenerate instance), `L_i` the labour so far. A worker's reward is the
change of `U_i` (the first step's reward is `U_i` itself), so its episode return is its final
utility. The planner's objective is `productivity x equality` of the coin inventories:
productivity = `sum_i coin_i`, equality = `1 - G * N / (N - 1)` with the Gini coefficient
`G = sum_ij |c_i - c_j| / (2 N sum c)` (AI-Economist `social_metrics.py`); its reward is the
change of that product (first step: the product), so its return is the final product.

### Money accounting
Taxes and the lump-sum redistribution are transfers of the contract layer (worker -> planner and
planner -> worker, ledger keys `transfer_out` / `transfer_in`); the planner's action is a policy
(tax rates), not a payment (`PolicyTerms`), so `payment` is 0. A worker's
`own_reward` is the coin it earned this step (pre-tax income) and its ledger `utility` is its
coin change after taxes (not its reward, which is a utility of coin); `welfare` is the pre-tax
income of the step. The planner's net money is zero each step (budget balance).

### Observation Space
Worker: `[skill, coin, income this period, step in period / period_length, rates in force (K)]`.
Planner: `[coins (N), incomes this period (N), step in period / period_length, rates in force
(K)]`. float32. The rates in force are those of the current period (zeros before the first step).

### Outcomes and infos
No payment is outcome-contingent here (taxes are rules on income, not contracts on outcomes), so
there are no realised outcomes: `infos[agent]["outcome"]` is -1 and `infos["principal_0"]["outcomes"]`
all -1 (the keys every incentive game has). The planner observes coins and incomes, not labour.

Every player: `productivity`, `equality`, `equality_times_productivity` (after this step's taxes),
`acting`. Workers: `coin`, `labour`, `income` (this step). Planner: `tax_revenue` (this step),
`rate_k` for each bracket in force.

### Exact answers (`contract_envs.solvers.taxlite_*`)
TaxLite has a unique pure Nash equilibrium in labour for every rate on the 0.05 grid; the global
optimum is `t* = 0.75` with labour (0, 0, 9, 10), productivity 116, equality 0.8017 and
productivity x equality 93.0; a local optimum at `t = 0.25` (72.5); 59.33 with no tax.

### Deviations from the sources
* TaxLite replaces Gather-Trade-Build's gathering, trading and building by a labour choice with a
  fixed wage (skill): the economy is exactly solvable. No map, no resources, no trading.
* Agents' rewards in the AI-Economist are utility increments like here; its planner's default
  reward is also an increment of the social-welfare function (A scales it by 0.01; not here).
* Rates are in `[0, 1]` without the AI-Economist's rate cap annealing (a training device).
* Taxes due are capped by the worker's coin (`min(inventory, due)`), as in the AI-Economist; with
  rates in `[0, 1]` the cap never binds.

### Arguments
```python
contract_envs.make("parallel", "contract_envs/tax_economy-v1", tax_model="flat",
                   horizon=None, period_length=None, skills=(1, 2, 4, 8), max_labour=10,
                   labour_cost=0.8, isoelastic_eta=0.23, starting_coin=0.0, render_mode=None)
```
`horizon` (rounds per episode) / `period_length` (rounds per tax period): `None` picks the model's
defaults above, else integers >= 1. `tax_model` one of `"flat"`, `"us_federal"`; `skills` at least
2 finite numbers > 0; `max_labour` an integer >= 1; `labour_cost` finite and >= 0;
`isoelastic_eta` in `[0, 1)`; `starting_coin` finite and >= 0. A bad value raises `ValueError`
naming the argument and its allowed range. The PettingZoo adapters' own `max_cycles` (Parallel:
`step` calls; AEC: rounds) can end an episode earlier.

### Version History
* v1: `horizon` (rounds) replaces `max_cycles` as the episode-length keyword (`max_cycles` is now
  only the PettingZoo adapters' limit); native AEC turn order (planner, then each agent, the rates
  held until the last agent has moved; a bad move raises at the turn that made it) instead of
  PettingZoo's `parallel_to_aec`; the planner's move is a `PolicyTerms` (tax rates, errors say
  "tax rates" rather than "schedule"); `outcome` / `outcomes` infos (-1: no outcome-contingent
  payment); stricter argument validation (integral `horizon`, `period_length`, `max_labour`;
  finite `skills`, `labour_cost`, `isoelastic_eta`, `starting_coin`). Spaces and dynamics
  unchanged.
* v0: Initial release.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

import contract_envs.games._draw as _draw
from contract_envs.checks import check_choice, check_int, check_optional_int, check_real, real_array
from contract_envs.contracts import PolicyTerms, Settlement
from contract_envs.core.game import SIMULTANEOUS, Game, GameState, Transition
from contract_envs.games._incentive_common import gini_equality
from contract_envs.rng import BatchedStreams

# the exact reference of this game, for its documentation page (where the optimum is and how to compute it)
EXACT_OPTIMUM = (
    "TaxLite: `taxlite_solve()` (t* = 0.75, productivity x equality 93.0, by enumerating the labour "
    "equilibria at every rate); the bracket economy: none"
)

US_FEDERAL_CUTOFFS = (0.0, 9.7, 39.475, 84.2, 160.725, 204.1, 510.3)
US_FEDERAL_2018_RATES = (0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37)
TAX_MODELS = {"flat": ((0.0,), 1, 1), "us_federal": (US_FEDERAL_CUTOFFS, 100, 10)}  # cutoffs, horizon, period


def isoelastic_utility(coin: np.ndarray, labour: np.ndarray, eta: float, labour_cost: float) -> np.ndarray:
    """``(coin^(1-eta) - 1) / (1 - eta) - labour_cost * labour`` (AI-Economist's isoelastic utility)."""
    return (np.power(coin, 1.0 - eta) - 1.0) / (1.0 - eta) - labour_cost * labour


def bracket_tax(income: np.ndarray, rates: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
    """Tax due on ``income`` ``[B, N]`` with marginal ``rates`` ``[B, K]`` above ``cutoffs`` ``[K]``."""
    upper = np.append(cutoffs[1:], np.inf)
    in_bracket = np.clip(income[..., None] - cutoffs, 0.0, upper - cutoffs)  # [B, N, K]
    return (in_bracket * rates[:, None, :]).sum(axis=-1)


def resolve_tax_model(
    tax_model: str, horizon: int | None, period_length: int | None, owner: str = "tax_economy"
) -> tuple[tuple, int, int]:
    """(cutoffs, horizon, period length) of a tax model; ``None`` picks the model's defaults."""
    check_choice("tax_model", tax_model, list(TAX_MODELS), owner=owner)
    cutoffs, default_horizon, default_period = TAX_MODELS[tax_model]
    horizon = check_optional_int("horizon (rounds per episode)", horizon, 1, owner=owner)
    period = check_optional_int("period_length (rounds per tax period)", period_length, 1, owner=owner)
    return cutoffs, default_horizon if horizon is None else horizon, default_period if period is None else period


@dataclass
class TaxEconomyState(GameState):
    """Per environment: ``coin``, ``period_income`` (this tax period), ``labour_total``, ``utility``,
    ``last_labour``, ``last_income`` ``[B, N]``; ``rates [B, K]`` in force; ``revenue`` (last round),
    ``welfare_objective`` (productivity x equality) and ``equality`` ``[B]``."""

    coin: np.ndarray
    period_income: np.ndarray
    labour_total: np.ndarray
    rates: np.ndarray
    last_labour: np.ndarray
    last_income: np.ndarray
    revenue: np.ndarray
    utility: np.ndarray
    welfare_objective: np.ndarray
    equality: np.ndarray


class TaxEconomyGame(Game):
    """Batched labour economy with a tax planner (flat TaxLite or US-federal brackets)."""

    name = "tax_economy"
    timing = SIMULTANEOUS
    principal_in_welfare = False
    render_modes = ("ansi", "human", "rgb_array")

    def __init__(
        self,
        num_envs: int = 1,
        tax_model: str = "flat",
        horizon: int | None = None,
        period_length: int | None = None,
        skills=(1, 2, 4, 8),
        max_labour: int = 10,
        labour_cost: float = 0.8,
        isoelastic_eta: float = 0.23,
        starting_coin: float = 0.0,
    ) -> None:
        owner = self.name
        cutoffs, horizon, period = resolve_tax_model(tax_model, horizon, period_length, owner)
        skills = real_array("skills", skills, ndim=1, owner=owner)
        if skills.size < 2 or np.any(skills <= 0):
            raise ValueError(f"{owner}: skills must be >= 2 finite numbers, each > 0, got {skills.tolist()}")
        max_labour = check_int("max_labour", max_labour, 1, owner=owner)
        self.labour_cost = check_real("labour_cost", labour_cost, 0.0, owner=owner)
        self.eta = check_real("isoelastic_eta", isoelastic_eta, 0.0, 1.0, high_open=True, owner=owner)
        self.starting_coin = check_real("starting_coin", starting_coin, 0.0, owner=owner)
        n, k = skills.size, len(cutoffs)
        terms = PolicyTerms((k,), 0.0, 1.0, label="tax rates")  # K marginal rates in [0, 1]
        super().__init__(num_envs, n, max_labour + 1, terms, horizon, transfers=True)
        self.tax_model, self.period = tax_model, period
        self.cutoffs = np.asarray(cutoffs, dtype=np.float64)
        self.skills, self.max_labour = skills, max_labour
        coin_high = np.float32(self.starting_coin + skills.sum() * max_labour * horizon)
        agent_high = np.concatenate([[skills.max(), coin_high, coin_high, 1.0], np.ones(k)]).astype(np.float32)
        self.agent_observation_space = spaces.Box(np.zeros_like(agent_high), agent_high, dtype=np.float32)
        principal_high = np.concatenate([np.full(2 * n, coin_high), [1.0], np.ones(k)]).astype(np.float32)
        self.principal_observation_space = spaces.Box(np.zeros_like(principal_high), principal_high, dtype=np.float32)
        self.state_space = self.principal_observation_space

    def init_state(self) -> TaxEconomyState:
        b, n, k = self.num_envs, self.n_agents, len(self.cutoffs)
        return TaxEconomyState(
            t=np.zeros(b, dtype=np.int64),
            coin=np.full((b, n), self.starting_coin),
            period_income=np.zeros((b, n)),
            labour_total=np.zeros((b, n)),
            rates=np.zeros((b, k)),
            last_labour=np.zeros((b, n)),
            last_income=np.zeros((b, n)),
            revenue=np.zeros(b),
            utility=np.zeros((b, n)),
            welfare_objective=np.zeros(b),
            equality=np.ones(b),
        )

    def reset(self, state: TaxEconomyState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        for arr in (
            state.period_income,
            state.labour_total,
            state.rates,
            state.last_labour,
            state.last_income,
            state.revenue,
            state.utility,
            state.welfare_objective,
        ):
            arr[env_idx] = 0.0
        state.coin[env_idx] = self.starting_coin
        state.equality[env_idx] = 1.0  # equal starting coin

    def step(
        self, state: TaxEconomyState, actions: np.ndarray, principal_action: np.ndarray | None, rng: BatchedStreams
    ) -> Transition:
        b, n = actions.shape
        period_start = (state.t % self.period) == 0
        if principal_action is not None:  # the validated rates [B, K]; they count at a period's first round
            state.rates = np.where(period_start[:, None], principal_action, state.rates)
        labour = actions.astype(np.float64)
        income = self.skills * labour
        state.period_income = state.period_income + income
        state.labour_total = state.labour_total + labour
        state.last_labour, state.last_income = labour, income
        collect = ((state.t + 1) % self.period == 0) | (state.t + 1 >= self.horizon)
        due = bracket_tax(state.period_income, state.rates, self.cutoffs)
        tax = np.where(collect[:, None], np.minimum(state.coin + income, due), 0.0)
        state.revenue = tax.sum(axis=1)
        transfers = np.zeros((b, n + 1, n + 1))
        transfers[:, :n, n] = tax
        transfers[:, n, :n] = (state.revenue / n)[:, None]
        state.period_income = np.where(collect[:, None], 0.0, state.period_income)
        return Transition(income, np.zeros(b), None, np.zeros(b, dtype=bool), transfers)

    def on_settlement(self, state: TaxEconomyState, settlement: Settlement) -> tuple[np.ndarray, np.ndarray]:
        """Coin moves by the settled money; rewards are changes of utility and of productivity x equality."""
        state.coin = state.coin + settlement.agent_utility  # own income + redistribution - tax (money)
        utility = isoelastic_utility(state.coin, state.labour_total, self.eta, self.labour_cost)
        first = state.t == 1
        agent_reward = np.where(first[:, None], utility, utility - state.utility)
        state.utility = utility
        state.equality = gini_equality(state.coin)
        objective = state.coin.sum(axis=1) * state.equality
        principal_reward = np.where(first, objective, objective - state.welfare_objective)
        state.welfare_objective = objective
        return agent_reward, principal_reward

    # ----------------------------------------------------------------- observations
    def _phase(self, state: TaxEconomyState) -> np.ndarray:
        return ((state.t % self.period) / self.period).astype(np.float32)

    def observe_agents(self, state: TaxEconomyState, offers: np.ndarray | None) -> np.ndarray:
        b, n = state.coin.shape
        obs = np.empty((b, n, 4 + state.rates.shape[1]), dtype=np.float32)
        obs[:, :, 0] = self.skills
        obs[:, :, 1] = state.coin
        obs[:, :, 2] = state.period_income
        obs[:, :, 3] = self._phase(state)[:, None]
        obs[:, :, 4:] = state.rates[:, None, :]
        return obs

    def observe_principal(self, state: TaxEconomyState) -> np.ndarray:
        parts = [state.coin, state.period_income, self._phase(state)[:, None], state.rates]
        return np.concatenate(parts, axis=1).astype(np.float32)

    def global_state(self, state: TaxEconomyState, offers: np.ndarray | None) -> np.ndarray:
        return self.observe_principal(state)

    def infos(self, state: TaxEconomyState) -> dict[str, dict[str, np.ndarray]]:
        productivity = state.coin.sum(axis=1)
        equality = state.equality
        common = {
            "productivity": productivity,
            "equality": equality,
            "equality_times_productivity": productivity * equality,
        }
        infos: dict[str, dict[str, Any]] = {
            f"agent_{i}": {
                **common,
                "coin": state.coin[:, i],
                "labour": state.last_labour[:, i],
                "income": state.last_income[:, i],
            }
            for i in range(self.n_agents)
        }
        principal = {**common, "tax_revenue": state.revenue}
        principal.update({f"rate_{k}": state.rates[:, k] for k in range(state.rates.shape[1])})
        infos["principal_0"] = principal
        return infos

    def render_ansi(self, state: TaxEconomyState, env_index: int, offers: np.ndarray | None = None) -> str:
        b = env_index
        rates = np.array2string(state.rates[b], precision=3)
        workers = ", ".join(
            f"agent_{i}(skill {self.skills[i]:g}): labour {state.last_labour[b, i]:g}, coin {state.coin[b, i]:.2f}"
            for i in range(self.n_agents)
        )
        eq = gini_equality(state.coin[b : b + 1])[0]
        return (
            f"tax_economy ({self.tax_model}): step {int(state.t[b])}, rates {rates}, "
            f"productivity x equality {state.coin[b].sum() * eq:.3f} | {workers}"
        )

    def render_rgb(self, state: TaxEconomyState, env_index: int, offers: np.ndarray | None = None) -> np.ndarray:
        """RGB frame uint8: the tax rates in force, each worker's skill, last labour and coin (bars), the
        revenue collected and redistributed last round, and productivity x equality (the planner's score)."""
        b, n, k = env_index, self.n_agents, len(self.cutoffs)
        left, bar_len = 12, 220
        height = 60 + 20 * k + 22 + 34 * n + 44
        canvas = _draw.Canvas(height, 480)
        canvas.text(4, left, f"Tax economy ({self.tax_model})  round {int(state.t[b])}/{self.horizon}", bold=True)
        canvas.text(20, left, "planner sets marginal tax rates; revenue is shared equally", _draw.MUTED)
        y = 40
        canvas.text(y, left, "tax rate in force" if k == 1 else "rates in force, by bracket of period income")
        y += 16
        for j in range(k):
            label = "flat rate" if k == 1 else f">= {_draw.fmt(self.cutoffs[j], 1)}"
            canvas.text(y + 1, left, label, _draw.MUTED)
            canvas.bar(y + 3, left + 90, float(state.rates[b, j]), 1.0, bar_len, 8, _draw.PRINCIPAL_COLOUR)
            canvas.text(y + 1, left + 96 + bar_len, f"{state.rates[b, j]:.2f}", _draw.PRINCIPAL_COLOUR)
            y += 20
        y += 6
        coin_high = max(float(state.coin[b].max()), 1e-9)
        canvas.text(y, left, "worker (skill)  labour; coin held (green)")
        y += 16
        for i in range(n):
            colour = _draw.colour_of(i)
            canvas.text(y + 2, left, f"agent_{i} ({_draw.fmt(self.skills[i])})", colour)
            canvas.bar(y + 4, left + 90, float(state.last_labour[b, i]), self.max_labour, 60, 8, colour)
            labour, income = float(state.last_labour[b, i]), float(state.last_income[b, i])
            canvas.text(y + 1, left + 156, f"{_draw.fmt(labour)} (earned {_draw.fmt(income)})", colour)
            canvas.bar(y + 19, left + 90, float(state.coin[b, i]), coin_high, bar_len, 8, _draw.MONEY)
            canvas.text(y + 16, left + 96 + bar_len, f"{state.coin[b, i]:.1f}", _draw.MONEY)
            y += 34
        equality = float(gini_equality(state.coin[b : b + 1])[0])
        productivity = float(state.coin[b].sum())
        revenue = float(state.revenue[b])
        canvas.text(y + 4, left, f"taxes collected last round {revenue:.2f}; {revenue / n:.2f} paid back to each")
        canvas.text(
            y + 22,
            left,
            f"productivity {productivity:.1f} x equality {equality:.2f} = {productivity * equality:.2f}",
            _draw.PRINCIPAL_COLOUR,
            bold=True,
        )
        return canvas.pixels


# The registry's entry: the game for ``num_envs`` environments (arguments in the module docstring).
make_game = TaxEconomyGame
