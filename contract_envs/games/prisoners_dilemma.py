"""
# Prisoner's Dilemma (iterated, with an incentive designer, peer incentives or reward transfer)

This environment is part of the *incentive-design* environments of contract-envs (see
[Escape Room](escape_room.md) for the timing and [Concepts](../concepts.md) for the ledger).

| | |
|---|---|
| Creation | `contract_envs.make("parallel", "contract_envs/prisoners_dilemma-v1")` |
| Actions | Mixed: designer Continuous (Box), agents Discrete (peer variant: Dict) |
| Parallel API | Yes; native AEC: `contract_envs.make("aec", ...)` (designer, then each agent) |
| Manual Control | No |
| Agents | `['principal_0', 'agent_0', 'agent_1']` (`incentives="peer"`/`"none"`: agents only) |
| Agents | 3 (2 without a designer) |
| Action Shape | designer `(2,)` (`per_agent`: `(2, 2)`), agent `()` |
| Action Values | designer `[0, incentive_cap]`, agent `{0 = C, 1 = D}` |
| Observation Shape | `(5,)` (`peer`: agents `(6,)`) |
| Observation Values | one-hot of the previous joint action (start = index 4); gifts in `[0, cap * horizon]` |
| State Shape | `(5,)` |

The iterated Prisoner's Dilemma of LOLA (`alshedivat/lola`, `lola/envs/prisoners_dilemma.py`), used
by LIO (Yang et al., NeurIPS 2020) with peer incentives, here also with an incentive designer in
the style of adaptive incentive design (Yang et al., AAMAS 2022), and with Willis et al.'s reward
transfer (arXiv 2310.12928).

### Rules
Two agents, actions 0 = cooperate (C), 1 = defect (D). Reward to an agent (LOLA's
`payout_mat = [[-1, 0], [-3, -2]]`, `reward_i = payout[a_other][a_i]`): CC -1, CD -3 (it
cooperates, the other defects), DC 0, DD -2. In the (R, S, T, P) notation: R = -1, S = -3, T = 0,
P = -2 (`payoffs` argument). Episodes last `horizon` = 5 rounds (truncation).

### Incentive-design timing and variants
One Parallel step per round (`contract_envs.core.machines.SimultaneousIncentives`): the designer's
payment schedule over the agents' actions is chosen with their actions and settled right after;
agents never see it. In the native AEC env the designer moves first and its schedule is held until
both agents have moved, so neither sees it. The realised outcomes (the agents' actions) are in
`infos[agent]["outcome"]` and `infos["principal_0"]["outcomes"]`; the designer also observes the
previous joint action.
* `incentives="per_action"` (default): `(tau_C, tau_D)` in `[0, incentive_cap]` (cap 3 =
  LIO's `r_multiplier`), the same for both agents. `"per_agent"`: one schedule per agent, `(2, 2)`.
* `"peer"` (LIO): no designer; each agent's action is `{"action": Discrete(2), "incentives":
  Box(0, cap, (1, 2))}`, what it pays the other agent for each of the other's actions; the
  observation ends with the cumulative amount it has given this episode.
* `"none"`: no incentives.
* `keep_fraction = s` (reward transfer, any variant): each agent keeps the fraction `s` of its
  environment reward and transfers `1 - s` of it to the other (a negative reward transfers a
  liability: the other loses `(1 - s)|r|`). The transfers go through the contract layer's ledger
  (`transfer_in`, `transfer_out`), so agent `i` receives `s r_i + (1 - s) r_j`. Default 1 (none).

### Observation Space
One-hot of the previous joint action, index `2 a_0 + a_1`, or 4 at the start (LOLA), the same for
both agents and the designer, float32. `peer`: agents also see the cumulative amount given.

### Rewards
Agent: environment reward (after reward transfer) + incentives received (+/- gifts). Designer:
welfare (sum of the agents' environment rewards) minus `incentive_cost` (alpha, default 1) times
the incentives paid (the suite's designer_return(alpha); LIO's IPD config has no cost, alpha = 0).
The ledger records the money paid. `principal_in_welfare = False`.

### Exact answers (`contract_envs.solvers`)
`pd_min_incentive_gap(R, S, T, P) = max(T - R, P - S)`: cooperation is (weakly) dominant iff
`tau_C - tau_D >= 1` for LOLA's payoffs. `reward_transfer_threshold(R, S, T, P) =
min((R-S)/(T-S), (T-P)/(T-S))`: reward transfer makes cooperation dominant iff `s <= 2/3` (0.6 for
(3, 0, 5, 1)). Welfare -2 per step at CC, -4 at DD.

### Deviations from the sources
* LIO's gift is a function of the other's action and the observation; here the giver commits to a
  schedule over the other's action for the step (equivalent for two agents).
* LOLA's environment has no designer; the designer variant follows A's incentive design with
  LIO's bound `[0, 3]`.
* Willis et al. compute the self-interest level by an LP for general games; this environment
  implements the symmetric two-player transfer, for which the closed form above is exact.

### Arguments
```python
contract_envs.make("parallel", "contract_envs/prisoners_dilemma-v1", horizon=5,
                   incentives="per_action", incentive_cap=3.0, keep_fraction=1.0,
                   payoffs=(-1.0, -3.0, 0.0, -2.0), incentive_cost=1.0, render_mode=None)
```
`payoffs` = (R, S, T, P), reward to the row player for CC, CD, DC, DD (check the ordering when
taking payoffs from other code: `ucl-dark/pax` lists the IPD in another order). `horizon`: rounds
per episode. Every argument is checked (finite, in range, integral); a bad one raises `ValueError`
naming it.

### Version History
* v1: the game shape of contract-envs 0.2: `horizon` replaces `max_cycles` as the episode length
  (`max_cycles` is now only the PettingZoo adapters' cut-off); native AEC (designer, then each
  agent; previously `parallel_to_aec`); realised outcomes in `infos`; stricter argument checks.
  Dynamics, spaces and random draws are unchanged.
* v0: Initial release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

import contract_envs.games._draw as _draw
from contract_envs.checks import check_int, check_real, real_array
from contract_envs.contracts import Settlement
from contract_envs.core.game import SIMULTANEOUS, Game, GameState, Transition
from contract_envs.games._incentive_common import designer_rewards, incentive_terms
from contract_envs.rng import BatchedStreams

# the exact reference of this game, for its documentation page (where the optimum is and how to compute it)
EXACT_OPTIMUM = (
    "Yes: `pd_min_incentive_gap` (cooperation is dominant iff tau_C - tau_D >= 1), "
    "`reward_transfer_threshold` (keep fraction s <= 2/3), `pd_best_designer_return`"
)

COOPERATE, DEFECT = 0, 1
START_STATE = 4
LOLA_PAYOFFS = (-1.0, -3.0, 0.0, -2.0)  # R, S, T, P


def payoff_matrix(payoffs) -> np.ndarray:
    """``[a_self, a_other]`` -> reward of ``self`` from (R, S, T, P)."""
    values = real_array("payoffs (R, S, T, P)", payoffs, ndim=1, owner="prisoners_dilemma")
    if values.shape != (4,):
        raise ValueError(f"prisoners_dilemma: payoffs must be 4 finite numbers (R, S, T, P), got {payoffs!r}")
    r, s, t, p = values
    return np.array([[r, s], [t, p]])


@dataclass
class PrisonersDilemmaState(GameState):
    """``prev [B]``: index of the previous joint action ``2 a_0 + a_1`` (4 at the start);
    ``given [B, 2]``: what each agent has given the other this episode (peer incentives); ``last_offers
    [B, 2, 2]``: the designer's schedule of the last round (renders; ``None`` without a designer)."""

    prev: np.ndarray
    given: np.ndarray
    last_offers: np.ndarray | None = None  # [B, 2, 2]: the designer's schedule of the last round (renders)


class PrisonersDilemmaGame(Game):
    """Batched iterated Prisoner's Dilemma with incentives and reward transfer."""

    name = "prisoners_dilemma"
    timing = SIMULTANEOUS
    principal_in_welfare = False
    render_modes = ("ansi", "human", "rgb_array")

    def __init__(
        self,
        num_envs: int = 1,
        horizon: int = 5,
        incentives: str = "per_action",
        incentive_cap: float = 3.0,
        keep_fraction: float = 1.0,
        payoffs=LOLA_PAYOFFS,
        incentive_cost: float = 1.0,
    ) -> None:
        horizon = check_int("horizon (rounds per episode)", horizon, 1, owner=self.name)
        self.keep_fraction = check_real("keep_fraction", keep_fraction, 0.0, 1.0, owner=self.name)
        terms, peer = incentive_terms(self.name, incentives, 2, 2, incentive_cap)
        super().__init__(num_envs, 2, 2, terms, horizon, peer_terms=peer, transfers=self.keep_fraction < 1.0)
        self.mode = incentives
        self.incentive_cost = check_real("incentive_cost", incentive_cost, 0.0, owner=self.name)
        self.payoff = payoff_matrix(payoffs)
        high = np.ones(6 if peer is not None else 5, dtype=np.float32)
        if peer is not None:
            high[5] = peer.payment_cap * horizon
        self.agent_observation_space = spaces.Box(np.zeros_like(high), high, dtype=np.float32)
        self.principal_observation_space = spaces.Box(0.0, 1.0, (5,), dtype=np.float32)
        self.state_space = self.principal_observation_space
        self._eye = np.eye(5, dtype=np.float32)

    def init_state(self) -> PrisonersDilemmaState:
        b = self.num_envs
        return PrisonersDilemmaState(
            t=np.zeros(b, dtype=np.int64),
            prev=np.full(b, START_STATE, dtype=np.int64),
            given=np.zeros((b, 2)),
            last_offers=np.zeros((b, 2, 2)) if self.has_principal else None,
        )

    def reset(self, state: PrisonersDilemmaState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        state.prev[env_idx] = START_STATE
        state.given[env_idx] = 0.0

    def step(
        self,
        state: PrisonersDilemmaState,
        actions: np.ndarray,
        principal_action: np.ndarray | None,
        rng: BatchedStreams,
    ) -> Transition:
        a0, a1 = actions[:, 0], actions[:, 1]
        reward = np.stack([self.payoff[a0, a1], self.payoff[a1, a0]], axis=1)
        transfers = None
        if self.keep_fraction < 1.0:
            share = (1.0 - self.keep_fraction) * reward  # [B, 2] amount agent i hands to the other
            transfers = np.zeros((self.num_envs, 3, 3))
            transfers[:, 0, 1] = np.maximum(share[:, 0], 0.0) + np.maximum(-share[:, 1], 0.0)
            transfers[:, 1, 0] = np.maximum(share[:, 1], 0.0) + np.maximum(-share[:, 0], 0.0)
        state.prev = 2 * a0 + a1
        if principal_action is not None:
            state.last_offers = principal_action
        done = np.zeros(self.num_envs, dtype=bool)
        return Transition(reward, reward.sum(axis=1), actions.copy(), done, transfers)

    def on_settlement(self, state: PrisonersDilemmaState, settlement: Settlement) -> tuple[np.ndarray, np.ndarray]:
        if self.peer_terms is not None:  # gifts only: reward-transfer amounts are rules, not gifts
            gifts = settlement.transfers
            if self.keep_fraction < 1.0:
                share = (1.0 - self.keep_fraction) * settlement.agent_own
                rules = np.stack(
                    [
                        np.maximum(share[:, 0], 0.0) + np.maximum(-share[:, 1], 0.0),
                        np.maximum(share[:, 1], 0.0) + np.maximum(-share[:, 0], 0.0),
                    ],
                    axis=1,
                )
            else:
                rules = 0.0
            state.given = state.given + np.stack([gifts[:, 0, 1], gifts[:, 1, 0]], axis=1) - rules
        return designer_rewards(settlement, self.incentive_cost)

    def observe_principal(self, state: PrisonersDilemmaState) -> np.ndarray:
        return self._eye[state.prev]

    def observe_agents(self, state: PrisonersDilemmaState, offers: np.ndarray | None) -> np.ndarray:
        obs = np.repeat(self._eye[state.prev][:, None, :], 2, axis=1)
        if self.peer_terms is None:
            return obs
        return np.concatenate([obs, state.given[:, :, None].astype(np.float32)], axis=2)

    def global_state(self, state: PrisonersDilemmaState, offers: np.ndarray | None) -> np.ndarray:
        return self._eye[state.prev]

    def render_ansi(self, state: PrisonersDilemmaState, env_index: int, offers: np.ndarray | None = None) -> str:
        b = env_index
        prev = state.prev[b]
        last = "start" if prev == START_STATE else "CD"[prev // 2] + "CD"[prev % 2]
        return f"prisoners_dilemma: step {int(state.t[b])}, previous joint action {last}"

    def render_rgb(self, state: PrisonersDilemmaState, env_index: int, offers: np.ndarray | None = None) -> np.ndarray:
        """RGB frame uint8: the payoff matrix with the last joint action framed, the designer's schedule over
        cooperate / defect and what each agent was paid (or the peer gifts and the reward transfer)."""
        b = env_index
        played = bool(state.t[b] > 0) and state.prev[b] != START_STATE
        a0, a1 = (int(state.prev[b]) // 2, int(state.prev[b]) % 2) if played else (None, None)
        cell_w, cell_h, left, top = 110, 40, 84, 58
        height = top + 2 * cell_h + 30 + (2 * (2 * _draw.GLYPH_HEIGHT + 12) + 20 if self.has_principal else 40)
        canvas = _draw.Canvas(height, left + 2 * cell_w + 170)
        canvas.text(4, 12, f"Prisoner's Dilemma  round {int(state.t[b])}/{self.horizon}", bold=True)
        canvas.text(20, 12, "payoffs (agent_0, agent_1); frame: last round", _draw.MUTED)
        names = ("cooperate", "defect")
        canvas.text(top - 16, left + cell_w, "agent_1", _draw.colour_of(1), bold=True, align="center")
        canvas.text(top + cell_h - 6, 12, "agent_0", _draw.colour_of(0), bold=True)
        for j in range(2):
            canvas.text(top - 2, left + j * cell_w + cell_w / 2, names[j], _draw.MUTED, align="center")
            canvas.text(
                top + 12 + (j * cell_h) + cell_h / 2 - 6, left - 4, names[j][0].upper(), _draw.MUTED, align="right"
            )
        for i in range(2):
            for j in range(2):
                y0, x0 = top + 12 + i * cell_h, left + j * cell_w
                hit = played and (i, j) == (a0, a1)
                canvas.rect(y0, x0, y0 + cell_h, x0 + cell_w, _draw.HIGHLIGHT if hit else _draw.PANEL)
                canvas.outline(y0, x0, y0 + cell_h, x0 + cell_w, _draw.MONEY if hit else _draw.FAINT, 2 if hit else 1)
                text = f"({_draw.fmt(self.payoff[i, j])}, {_draw.fmt(self.payoff[j, i])})"
                canvas.text(y0 + cell_h / 2 - 6, x0 + cell_w / 2, text, _draw.INK, align="center")
        x = left + 2 * cell_w + 16
        y = top + 12
        if played:
            for k, act in enumerate((a0, a1)):
                canvas.text(y + 16 * k, x, f"agent_{k}: {names[act]}", _draw.colour_of(k))
        if self.keep_fraction < 1.0:
            canvas.text(y + 40, x, f"keeps {self.keep_fraction:.0%} of its reward,", _draw.MUTED)
            canvas.text(y + 54, x, "gives the rest", _draw.MUTED)
        y = top + 12 + 2 * cell_h + 12
        if self.has_principal:
            canvas.text(y, 12, "designer's schedule, last round" if played else "designer's schedule (none yet)")
            y += 16
            for k in range(2):
                amounts = state.last_offers[b, k] if played else None
                act = (a0, a1)[k]
                canvas.text(y + 9, 12, f"agent_{k}", _draw.colour_of(k))
                canvas.contract_row(y, 84, ["C", "D"], amounts, act, box_width=50)
                if played:
                    paid = float(state.last_offers[b, k, act])
                    canvas.text(y + 9, 196, f"paid {_draw.fmt(paid)}", _draw.MONEY if paid > 0 else _draw.MUTED)
                y += 2 * _draw.GLYPH_HEIGHT + 12
        elif self.peer_terms is not None:
            canvas.text(y, 12, "peer gifts this episode (net, given to the other)")
            for k in range(2):
                canvas.text(y + 16 * (k + 1), 12, f"agent_{k}: {_draw.fmt(state.given[b, k])}", _draw.MONEY)
        return canvas.pixels


# The registry's entry: the game for ``num_envs`` environments (arguments in the module docstring).
make_game = PrisonersDilemmaGame
