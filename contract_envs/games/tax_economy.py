"""
# Tax Economy (TaxLite and a multi-period bracket-tax economy)

This environment is part of the *incentive-design* environments of contract-envs (see
`contract_envs.envs.escape_room` for the timing and the contract layer's page for the ledger).

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/tax_economy-v0")` |
| Actions | Mixed: planner Continuous (Box), agents Discrete |
| Parallel API | Yes (AEC via `contract_envs.make("aec", ...)`) |
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
* `tax_model="flat"` (TaxLite, default): one rate `t` (`K = 1`, cutoffs `[0]`); defaults
  `max_cycles = 1`, `period_length = 1`: the one-shot game `c_i = (1 - t) z_i + t sum_j z_j / N`.
* `tax_model="us_federal"`: the 7 US-federal 2018 brackets scaled by 1/1000 as in the AI-Economist
  (`usd_scaling` 1e3): cutoffs `[0, 9.7, 39.475, 84.2, 160.725, 204.1, 510.3]` coin (`K = 7`);
  defaults `max_cycles = 100`, `period_length = 10` (10 tax periods, A's GTB setting). The 2018
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
(tax rates), not a payment (`principal_pays_contracts = False`), so `payment` is 0. A worker's
`own_reward` is the coin it earned this step (pre-tax income) and its ledger `utility` is its
coin change after taxes (not its reward, which is a utility of coin); `welfare` is the pre-tax
income of the step. The planner's net money is zero each step (budget balance).

### Observation Space
Worker: `[skill, coin, income this period, step in period / period_length, rates in force (K)]`.
Planner: `[coins (N), incomes this period (N), step in period / period_length, rates in force
(K)]`. float32. The rates in force are those of the current period (zeros before the first step).

### Infos
Every player: `productivity`, `equality`, `equality_times_productivity` (after this step's taxes).
Workers: `coin`, `labour`, `income` (this step). Planner: `tax_revenue` (this step), `rate_k` for
each bracket in force.

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
contract_envs.make("parallel", "contract_envs/tax_economy-v0", tax_model="flat",
                   max_cycles=None, period_length=None, skills=(1, 2, 4, 8), max_labour=10,
                   labour_cost=0.8, isoelastic_eta=0.23, starting_coin=0.0, render_mode=None)
```
`max_cycles` / `period_length`: `None` picks the model's defaults above.

### Version History
* v0: Initial release.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from contract_envs.contracts import ContractTerms, Settlement
from contract_envs.core import ContractGame, Transition
from contract_envs.envs._incentive_common import EpisodeLengthParallelEnv, gini_equality
from contract_envs.pettingzoo_api import aec_from_parallel

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


def resolve_tax_model(tax_model: str, max_cycles: int | None, period_length: int | None) -> tuple[tuple, int, int]:
    if tax_model not in TAX_MODELS:
        raise ValueError(f"tax_model={tax_model!r} is not supported; allowed: {list(TAX_MODELS)}")
    cutoffs, horizon, period = TAX_MODELS[tax_model]
    horizon = int(horizon if max_cycles is None else max_cycles)
    return cutoffs, horizon, int(period if period_length is None else period_length)


class TaxEconomyGame(ContractGame):
    """Batched labour economy with a tax planner (flat TaxLite or US-federal brackets)."""

    name = "tax_economy"
    simultaneous = True
    principal_in_welfare = False
    principal_pays_contracts = False
    rule_transfers = True

    def __init__(
        self, num_envs: int = 1, tax_model: str = "flat", max_cycles: int | None = None,
        period_length: int | None = None, skills=(1, 2, 4, 8), max_labour: int = 10, labour_cost: float = 0.8,
        isoelastic_eta: float = 0.23, starting_coin: float = 0.0, seed: int | None = None,
    ) -> None:
        cutoffs, horizon, period = resolve_tax_model(tax_model, max_cycles, period_length)
        if horizon < 1 or period < 1:
            raise ValueError(f"max_cycles and period_length must be >= 1, got {horizon}, {period}")
        skills = np.asarray(skills, dtype=np.float64)
        if skills.ndim != 1 or skills.size < 2 or not np.all(np.isfinite(skills)) or np.any(skills <= 0):
            raise ValueError(f"skills must be >= 2 finite positive numbers, got {skills.tolist()}")
        if int(max_labour) < 1:
            raise ValueError(f"max_labour must be >= 1, got {max_labour}")
        if not (0.0 <= float(isoelastic_eta) < 1.0):
            raise ValueError(f"isoelastic_eta must lie in [0, 1), got {isoelastic_eta}")
        if not (np.isfinite(labour_cost) and labour_cost >= 0):
            raise ValueError(f"labour_cost must be finite and >= 0, got {labour_cost}")
        if not (np.isfinite(starting_coin) and starting_coin >= 0):
            raise ValueError(f"starting_coin must be finite and >= 0, got {starting_coin}")
        n, k = skills.size, len(cutoffs)
        terms = ContractTerms(n, k, 1.0, shared=True)  # the planner's action: K marginal rates in [0, 1]
        super().__init__(num_envs, n, int(max_labour) + 1, terms, horizon, seed)
        self.tax_model, self.period = tax_model, period
        self.cutoffs = np.asarray(cutoffs, dtype=np.float64)
        self.skills, self.max_labour = skills, int(max_labour)
        self.labour_cost, self.eta, self.starting_coin = float(labour_cost), float(isoelastic_eta), float(starting_coin)
        coin_high = np.float32(starting_coin + skills.sum() * max_labour * horizon)
        agent_high = np.concatenate([[skills.max(), coin_high, coin_high, 1.0], np.ones(k)]).astype(np.float32)
        self.agent_observation_space = spaces.Box(np.zeros_like(agent_high), agent_high, dtype=np.float32)
        principal_high = np.concatenate([np.full(2 * n, coin_high), [1.0], np.ones(k)]).astype(np.float32)
        self.principal_observation_space = spaces.Box(np.zeros_like(principal_high), principal_high, dtype=np.float32)
        self.state_space = self.principal_observation_space
        b = self.num_envs
        self.coin = np.full((b, n), self.starting_coin)
        self.period_income = np.zeros((b, n))
        self.labour_total = np.zeros((b, n))
        self.rates = np.zeros((b, k))
        self.last_labour = np.zeros((b, n))
        self.last_income = np.zeros((b, n))
        self.revenue = np.zeros(b)
        self.utility = np.zeros((b, n))
        self.welfare_objective = np.zeros(b)
        self.equality = np.ones(b)
        self._agent_reward = np.zeros((b, n))
        self._principal_reward = np.zeros(b)

    def _reset(self, env_idx: np.ndarray) -> None:
        for arr in (self.period_income, self.labour_total, self.rates, self.last_labour, self.last_income,
                    self.revenue, self.utility, self.welfare_objective):
            arr[env_idx] = 0.0
        self.coin[env_idx] = self.starting_coin
        self.equality[env_idx] = 1.0  # equal starting coin

    def _step(self, actions: np.ndarray) -> Transition:
        n, b = self.n_agents, self.num_envs
        period_start = (self.t % self.period) == 0
        if self.incentives is not None:
            self.rates = np.where(period_start[:, None], self.incentives[:, 0, :], self.rates)
        labour = actions.astype(np.float64)
        income = self.skills * labour
        self.period_income += income
        self.labour_total += labour
        self.last_labour, self.last_income = labour, income
        collect = ((self.t + 1) % self.period == 0) | (self.t + 1 >= self.horizon)
        due = bracket_tax(self.period_income, self.rates, self.cutoffs)
        tax = np.where(collect[:, None], np.minimum(self.coin + income, due), 0.0)
        self.revenue = tax.sum(axis=1)
        transfers = np.zeros((b, n + 1, n + 1))
        transfers[:, :n, n] = tax
        transfers[:, n, :n] = (self.revenue / n)[:, None]
        self.period_income = np.where(collect[:, None], 0.0, self.period_income)
        done = np.zeros(b, dtype=bool)
        return Transition(income, np.zeros(b), np.zeros((b, n), dtype=np.int64), done, transfers)

    def on_settled(self, settlement: Settlement) -> None:
        self.coin = self.coin + settlement.agent_utility  # own income + redistribution - tax (money)
        utility = isoelastic_utility(self.coin, self.labour_total, self.eta, self.labour_cost)
        first = (self.t == 1)[:, None]
        self._agent_reward = np.where(first, utility, utility - self.utility)
        self.utility = utility
        self.equality = gini_equality(self.coin)
        objective = self.coin.sum(axis=1) * self.equality
        self._principal_reward = np.where(self.t == 1, objective, objective - self.welfare_objective)
        self.welfare_objective = objective

    def rewards(self, settlement: Settlement) -> tuple[np.ndarray, np.ndarray]:
        return self._agent_reward, self._principal_reward

    # ----------------------------------------------------------------- observations
    def _phase(self) -> np.ndarray:
        return ((self.t % self.period) / self.period).astype(np.float32)

    def agent_observation(self, contracts: np.ndarray | None) -> np.ndarray:
        b, n = self.num_envs, self.n_agents
        obs = np.empty((b, n, 4 + self.rates.shape[1]), dtype=np.float32)
        obs[:, :, 0] = self.skills
        obs[:, :, 1] = self.coin
        obs[:, :, 2] = self.period_income
        obs[:, :, 3] = self._phase()[:, None]
        obs[:, :, 4:] = self.rates[:, None, :]
        return obs

    def principal_observation(self) -> np.ndarray:
        return np.concatenate(
            [self.coin, self.period_income, self._phase()[:, None], self.rates], axis=1
        ).astype(np.float32)

    def state(self, contracts: np.ndarray | None) -> np.ndarray:
        return self.principal_observation()

    def extra_infos(self) -> dict[str, dict[str, np.ndarray]]:
        productivity = self.coin.sum(axis=1)
        equality = self.equality
        common = {"productivity": productivity, "equality": equality,
                  "equality_times_productivity": productivity * equality}
        infos: dict[str, dict[str, Any]] = {
            f"agent_{i}": {**common, "coin": self.coin[:, i], "labour": self.last_labour[:, i],
                           "income": self.last_income[:, i]}
            for i in range(self.n_agents)
        }
        principal = {**common, "tax_revenue": self.revenue}
        principal.update({f"rate_{k}": self.rates[:, k] for k in range(self.rates.shape[1])})
        infos["principal_0"] = principal
        return infos

    def render_ansi(self, env_index: int) -> str:
        b = env_index
        rates = np.array2string(self.rates[b], precision=3)
        workers = ", ".join(
            f"agent_{i}(skill {self.skills[i]:g}): labour {self.last_labour[b, i]:g}, coin {self.coin[b, i]:.2f}"
            for i in range(self.n_agents)
        )
        eq = gini_equality(self.coin[b : b + 1])[0]
        return (f"tax_economy ({self.tax_model}): step {int(self.t[b])}, rates {rates}, "
                f"productivity x equality {self.coin[b].sum() * eq:.3f} | {workers}")


class parallel_env(EpisodeLengthParallelEnv):  # noqa: N801  (PettingZoo naming convention)
    """PettingZoo ParallelEnv of the tax economy (see the module docstring)."""

    metadata = {"name": "tax_economy_v0", "render_modes": ["ansi", "human"], "is_parallelizable": True,
                "render_fps": 2}

    def __init__(self, max_cycles: int | None = None, render_mode: str | None = None, tax_model: str = "flat",
                 **kwargs: Any):
        _, horizon, _ = resolve_tax_model(tax_model, max_cycles, kwargs.get("period_length"))
        super().__init__(max_cycles=horizon, render_mode=render_mode, tax_model=tax_model, **kwargs)

    @classmethod
    def make_game(
        cls, num_envs: int, tax_model: str = "flat", max_cycles: int | None = None, period_length: int | None = None,
        skills=(1, 2, 4, 8), max_labour: int = 10, labour_cost: float = 0.8, isoelastic_eta: float = 0.23,
        starting_coin: float = 0.0, seed: int | None = None,
    ) -> TaxEconomyGame:
        return TaxEconomyGame(num_envs, tax_model, max_cycles, period_length, skills, max_labour, labour_cost,
                              isoelastic_eta, starting_coin, seed)


env = aec_from_parallel(parallel_env)
raw_env = env
