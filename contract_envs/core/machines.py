"""Stage machines: the rounds of a game, with validation, settlement, the ledger and infos built once.

A stage machine runs a :class:`~contract_envs.core.game.Game` over its ``B`` environments and is
the suite's batched API (``contract_envs.vector.make``): ``step`` takes a dict player -> action
batch and returns five dicts of arrays keyed by player; the PettingZoo and Gymnasium adapters are
views of a machine at ``B = 1``. Which machine runs a game follows from the game's ``timing``:

* :class:`SequentialContracts` (Principal-Agent RL): each round is an *offer* stage (the principal
  offers one contract per agent) and an *act* stage (every agent, seeing its contract, acts;
  outcomes are drawn, payments settled). Without a principal, only the act stage.
* :class:`SimultaneousIncentives` (incentive design): one stage per round in which the designer's
  payment schedule (or policy) is chosen together with the agents' actions; agents never see it.
* :class:`HierarchicalContracts` (trees of principals): one offer stage per depth with inner nodes,
  top-down, then one act stage in which every node acts.

Every action given to a step is checked, whether it counts in the stage or not (``None`` stands for
"no move"); unknown player keys, missing moves of players whose move counts, stepping before
``reset`` or after an episode ended (``autoreset=False``) raise ``ValueError``/``RuntimeError``
naming the player, the field and the allowed range. The full state - the game's state, the random
streams' counters, the stage, the offers on the table and the ledger - is :meth:`StageMachine.snapshot`
and :meth:`StageMachine.restore`; pickling and deepcopy keep it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from contract_envs.checks import check_seed
from contract_envs.contracts import (
    PRINCIPAL,
    ContractTerms,
    HierarchyLedger,
    Ledger,
    peer_amounts,
    settle,
    settle_hierarchy,
    transfer_matrix,
)
from contract_envs.core.game import HIERARCHICAL, SEQUENTIAL, SIMULTANEOUS, Game, GameState, HierarchicalGame
from contract_envs.rng import BatchedStreams


@dataclass
class MachineSnapshot:
    """Everything an environment batch is at one moment (see :meth:`StageMachine.snapshot`)."""

    state: GameState
    rng_keys: np.ndarray
    rng_counters: np.ndarray
    stage: int
    offers: np.ndarray
    outcomes: np.ndarray
    settled: bool
    ledger: Any
    started: bool
    finished: np.ndarray


def _take(obs: Any, index: Any) -> Any:
    """Index the leading axes of an observation batch (array, or dict of arrays or of such dicts)."""
    if type(obs) is dict:
        return {k: _take(v, index) for k, v in obs.items()}
    return obs[index]


class StageMachine:
    """Batched API over a :class:`Game` (see the module docstring).

    Attributes:
        game: the rules. ``state``: the game's state (``GameState``, leading axis ``B``).
        possible_agents: every player (principal first). ``agents``: the agents' ids.
        stage_names: the stages of a round; ``stage``: index of the coming stage.
        stage_movers: per stage, the players whose move counts in it.
        turns: the players in AEC order, each once per round.
        autoreset: with ``True`` an environment whose episode ended is reset within the same ``step``:
            the returned observation is the first of the next episode, the final one is kept in
            ``final_observations`` and the finished episode's totals are in that step's infos
            (``episode_*``). With ``False`` stepping an ended environment raises until ``reset``.
    """

    stage_names: tuple[str, ...]
    stage_movers: tuple[tuple[str, ...], ...]
    turns: tuple[str, ...]

    def __init__(self, game: Game, seed: int | None = None, autoreset: bool = True) -> None:
        if not isinstance(game, Game):
            raise TypeError(f"a stage machine runs a contract_envs Game, got {type(game).__name__}")
        if not isinstance(autoreset, bool):
            raise ValueError(f"autoreset must be True or False, got {autoreset!r}")
        self.game = game
        self.num_envs = game.num_envs
        self.autoreset = autoreset
        self.possible_agents: list[str] = list(game.players)
        self.agents: list[str] = list(game.agents)
        self.rng = BatchedStreams.from_seed(check_seed(seed), self.num_envs)
        self.state = game.init_state()
        self.stage = 0
        self.started = False
        self.finished = np.zeros(self.num_envs, dtype=bool)
        self._any_finished = False
        self.final_observations: dict[str, Any] | None = None
        self._players = frozenset(self.possible_agents)
        self._all = np.arange(self.num_envs)
        self._false = np.zeros(self.num_envs, dtype=bool)
        self._action_spaces = {p: game.action_space(p) for p in self.possible_agents}
        self._observation_spaces = {p: game.observation_space(p) for p in self.possible_agents}
        self._zero_rewards = np.zeros((self.num_envs, len(self.possible_agents)))
        self._zero_rewards.flags.writeable = False

    # ------------------------------------------------------------------ spaces
    def observation_space(self, player: str) -> spaces.Space:
        self._known(player)
        return self._observation_spaces[player]

    def action_space(self, player: str) -> spaces.Space:
        self._known(player)
        return self._action_spaces[player]

    @property
    def state_space(self) -> spaces.Space:
        return self.game.state_space

    @property
    def stages_per_round(self) -> int:
        return len(self.stage_names)

    def acting(self, player: str) -> bool:
        """Whether ``player``'s move counts in the coming step."""
        return player in self.stage_movers[self.stage]

    def _known(self, player: str) -> None:
        if player not in self._players:
            raise ValueError(f"unknown player {player!r}; players of {self.game.name} are {self.possible_agents}")

    # ------------------------------------------------------------------ API
    def reset(self, seed: int | None = None, env_idx: Any = None) -> tuple[dict, dict]:
        """Start new episodes: every environment (reseeded with ``seed``: environment ``b`` gets the
        stream of seed ``seed + b``), or only ``env_idx`` at a round boundary (their streams go on)."""
        seed = check_seed(seed)
        if env_idx is None:
            if seed is not None:
                self.rng.reseed(seed)
            self.stage = 0
            self.started = True
            self.final_observations = None
            self._clear_round()
            self._reset_envs(self._all)
        else:
            if seed is not None:
                raise ValueError("reset: a seed reseeds the whole batch; pass env_idx=None with a seed")
            if not self.started:
                raise RuntimeError("reset: call reset() once for the whole batch before resetting some environments")
            if self.stage != 0:
                raise RuntimeError(
                    f"reset: environments can be reset one by one only between rounds (stage {self.stage_names[0]!r});"
                    f" the batch is in stage {self.stage_names[self.stage]!r}"
                )
            given = np.asarray(env_idx)
            if given.dtype.kind not in "iu":
                raise ValueError(f"reset: env_idx must be integer indices in [0, {self.num_envs - 1}], got {env_idx!r}")
            idx = np.unique(given.astype(np.int64).reshape(-1))
            if idx.size and (idx[0] < 0 or idx[-1] >= self.num_envs):
                raise ValueError(f"reset: env_idx must lie in [0, {self.num_envs - 1}], got {given}")
            self._reset_envs(idx)
        return self.observe(), self.infos()

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One stage for every environment: (observations, rewards, terminations, truncations, infos)."""
        rewards, terminated, truncated, settled = self.advance(actions)
        obs = self.observe()
        infos = self.infos()
        if settled and self.autoreset:
            done = terminated | truncated
            if done.any():
                self.final_observations = obs
                self._reset_envs(np.flatnonzero(done))
                obs = self.observe()
        players = self.possible_agents
        return (
            obs,
            {p: rewards[:, j] for j, p in enumerate(players)},
            dict.fromkeys(players, terminated),
            dict.fromkeys(players, truncated),
            infos,
        )

    def advance(self, actions: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """One stage without observations, infos or auto-reset (the adapters' hot path).

        Returns rewards ``[B, players]`` (columns in ``possible_agents`` order), terminated and
        truncated ``[B]`` and whether the stage settled a round."""
        if not self.started:
            raise RuntimeError("step() before reset(): call reset() to start an episode")
        if self._any_finished:
            ended = np.flatnonzero(self.finished)
            which = "the episode has" if self.num_envs == 1 else f"environments {ended.tolist()[:10]} have"
            raise RuntimeError(
                f"{which} ended (terminated or truncated): call reset() before step(), or use autoreset=True"
            )
        if type(actions) is not dict:
            if not isinstance(actions, dict):
                raise ValueError(f"actions must be a dict player -> action, got {type(actions).__name__}")
        if not actions.keys() <= self._players:
            unknown = sorted(set(actions) - self._players, key=str)
            raise ValueError(f"unknown player(s) {unknown} in actions; players are {self.possible_agents}")
        return self._advance(actions)

    def _mark_finished(self, done: np.ndarray) -> None:
        """Environments whose episode ended (kept until reset when there is no auto-reset)."""
        if not self.autoreset:
            self.finished |= done
            self._any_finished = True

    def check_turn(self, player: str, action: Any) -> None:
        """Validate ``player``'s move for every stage it moves in this round (AEC: at its turn)."""
        self._known(player)
        for k, movers in enumerate(self.stage_movers):
            if player in movers:
                self._parse(player, action, k)

    def global_state(self) -> np.ndarray:
        return self.game.global_state(self.state, self._shown_offers())

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> MachineSnapshot:
        """A copy of the full state: restoring it continues exactly as this batch would."""
        return MachineSnapshot(
            state=self.state.copy(),
            rng_keys=self.rng.keys.copy(),
            rng_counters=self.rng.counters.copy(),
            stage=self.stage,
            offers=self.offers.copy(),
            outcomes=self.outcomes.copy(),
            settled=self._settled,
            ledger=self.ledger.snapshot(),
            started=self.started,
            finished=self.finished.copy(),
        )

    def restore(self, snapshot: MachineSnapshot) -> None:
        """Return to a :meth:`snapshot` of a machine of the same game and batch size."""
        if not isinstance(snapshot, MachineSnapshot) or snapshot.rng_keys.shape != (self.num_envs,):
            raise ValueError(f"restore: expected a MachineSnapshot of {self.num_envs} environments, got {snapshot!r}")
        self.state = snapshot.state.copy()
        self.rng.keys[...] = snapshot.rng_keys
        self.rng.counters[...] = snapshot.rng_counters
        self.stage = snapshot.stage
        self.offers = snapshot.offers.copy()
        self.outcomes = snapshot.outcomes.copy()
        self._settled = snapshot.settled
        self.ledger.restore(snapshot.ledger)
        self.started = snapshot.started
        self.finished = snapshot.finished.copy()
        self._any_finished = bool(self.finished.any())
        self.final_observations = None

    # ------------------------------------------------------------------ rendering
    def render_ansi(self, env_index: int = 0) -> str:
        text = self.game.render_ansi(self.state, env_index, self._shown_offers())
        return f"{text} | coming stage: {self.stage_names[self.stage]}"

    def render_rgb(self, env_index: int = 0) -> np.ndarray:
        """The game's frame of environment ``env_index``, with the offers on the table in the round in play
        (``None`` between rounds: the games draw the last round's contracts and payments from their state)."""
        return self.game.render_rgb(self.state, env_index, self.offers if self.stage > 0 else None)

    # ------------------------------------------------------------------ per machine
    def _advance(self, actions: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        raise NotImplementedError

    def _parse(self, player: str, action: Any, stage: int) -> Any:
        raise NotImplementedError

    def _empty_offers(self) -> np.ndarray:
        """The offers on the table at the start of a round (none)."""
        raise NotImplementedError

    def _clear_round(self) -> None:
        """Forget the round in play and the ledger (a full reset)."""
        self.ledger.reset()
        self.offers = self._empty_offers()
        self.outcomes = self._no_outcomes
        self._settled = False
        self.finished[:] = False
        self._any_finished = False

    def _reset_envs(self, idx: np.ndarray) -> None:
        """New episodes in the environments ``idx`` (their ledger, outcomes and ended flags too)."""
        whole = len(idx) == self.num_envs
        self.ledger.reset(None if whole else idx)
        if whole:
            self.finished[:] = False
            self._any_finished = False
            self.outcomes = self._no_outcomes
        else:
            self.finished[idx] = False
            self._any_finished = bool(self.finished.any())
            if self._settled:
                self.outcomes = self.outcomes.copy()
                self.outcomes[idx] = -1
        self.state.t[idx] = 0
        self.game.reset(self.state, idx, self.rng)

    def _shown_offers(self) -> np.ndarray | None:
        return None

    def observe(self) -> dict[str, Any]:
        """Every player's observation batch."""
        raise NotImplementedError

    def observe_at(self, env_index: int) -> dict[str, Any]:
        """Every player's observation in environment ``env_index`` (unbatched)."""
        raise NotImplementedError

    def infos(self, env_index: int | None = None) -> dict[str, dict[str, Any]]:
        """Every player's infos: arrays ``[B]`` (copies), or the scalars of ``env_index``."""
        raise NotImplementedError

    def _check_ignored(self, actions: dict[str, Any], movers: tuple[str, ...]) -> None:
        """Actions of players whose move does not count now must still be ``None`` or valid."""
        for p, a in actions.items():
            if a is not None and p not in movers:
                self.check_turn(p, a)


class _PrincipalAgentsMachine(StageMachine):
    """What :class:`SequentialContracts` and :class:`SimultaneousIncentives` share: a principal (or
    none) and ``N`` agents, settled by the contract layer's :func:`~contract_envs.contracts.settle`."""

    def __init__(self, game: Game, seed: int | None = None, autoreset: bool = True) -> None:
        super().__init__(game, seed, autoreset)
        n = game.n_agents
        self.terms = game.principal
        self._pays = self.terms is not None and self.terms.pays
        n_out = self.terms.n_outcomes if isinstance(self.terms, ContractTerms) else 1
        self.ledger = Ledger(self.num_envs, n, transfers=game.transfers)
        self._zero_offers = np.zeros((self.num_envs, n, n_out))
        self._zero_offers.flags.writeable = False
        self.offers = self._zero_offers
        self._no_outcomes = np.full((self.num_envs, n), -1, dtype=np.int64)
        self._no_outcomes.flags.writeable = False
        self.outcomes = self._no_outcomes
        self._settled = False
        self._agent_column = 1 if self.terms is not None else 0
        # ledger party columns (agents, then the principal) in possible_agents order (principal first)
        self._reward_columns = np.array(([n] if self.terms is not None else []) + list(range(n)), dtype=np.int64)
        self._n_actions = game.n_actions
        self._peer = game.peer_terms
        if self._peer is not None:
            self._others = [[j for j in range(n) if j != i] for i in range(n)]

    # ------------------------------------------------------------------ parsing
    def _parse_principal(self, action: Any) -> np.ndarray:
        if action is None:
            raise ValueError(
                f"{PRINCIPAL}: no move given in stage {self.stage_names[self.stage]!r}; expected an array of shape "
                f"{self.terms.shape} in {self._principal_range()}"
            )
        return self.terms.validate(action, self.num_envs, PRINCIPAL)

    def _principal_range(self) -> str:
        t = self.terms
        return f"[0, {t.payment_cap}]" if isinstance(t, ContractTerms) else f"[{t.low}, {t.high}]"

    def _parse_agent(self, player: str, action: Any) -> Any:
        """An agent's move: its action (an int at B = 1, else ``[B]``), with its peer payments."""
        if self._peer is None:
            if (type(action) is int or isinstance(action, np.integer)) and 0 <= action < self._n_actions:
                return int(action) if self.num_envs == 1 else np.full(self.num_envs, action, dtype=np.int64)
            move = self._discrete(player, action, "action", self._n_actions)
            return int(move[0]) if self.num_envs == 1 else move
        if type(action) is not dict or set(action) != {"action", "incentives"}:
            raise ValueError(
                f"{player}: expected a dict {{'action': int in [0, {self._n_actions - 1}], 'incentives': array "
                f"({self.game.n_agents - 1}, {self._peer.n_outcomes}) in [0, {self._peer.payment_cap}]}} "
                f"(one row per other agent), got {action!r}"
            )
        move = self._discrete(player, action["action"], "action", self._n_actions)
        if self.num_envs == 1:
            move = int(move[0])
        i = self.agents.index(player)
        others = [self.agents[j] for j in self._others[i]]
        rows = self._peer.validate(action["incentives"], self.num_envs, player=player, recipients=others)
        return move, rows

    def _discrete(self, player: str, action: Any, field: str, n: int) -> np.ndarray:
        """``action`` as int64 ``[B]`` in ``[0, n)``, with an error naming player and field."""
        if type(action) is np.ndarray and action.dtype == np.int64 and action.shape == (self.num_envs,):
            if np.minimum.reduce(action) >= 0 and np.maximum.reduce(action) < n:  # the batched hot path
                return action
        if action is None:
            raise ValueError(
                f"{player}: no {field} given in stage {self.stage_names[self.stage]!r}; expected an int in [0, {n - 1}]"
            )
        a = np.asarray(action)
        if a.dtype.kind not in "iu" and not (
            a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a))
        ):
            raise ValueError(f"{player}: {field} {action!r} is not an integer in [0, {n - 1}]")
        if a.shape not in ((), (self.num_envs,)) and not (a.shape == (1,) and self.num_envs == 1):
            raise ValueError(f"{player}: {field} has shape {a.shape}; expected () or ({self.num_envs},)")
        if np.any((a < 0) | (a >= n)):
            raise ValueError(f"{player}: {field} {action!r} is out of range; allowed [0, {n - 1}]")
        return np.broadcast_to(a.astype(np.int64, copy=False), (self.num_envs,))

    def _parse(self, player: str, action: Any, stage: int) -> Any:
        if player == PRINCIPAL and self.terms is not None:
            return self._parse_principal(action)
        return self._parse_agent(player, action)

    def _agent_moves(self, actions: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
        """Agents' actions ``[B, N]`` and peer offers ``[B, N, N, O]`` (or ``None``)."""
        moves = [self._parse_agent(a, actions.get(a)) for a in self.agents]
        peer = None
        if self._peer is not None:
            n = self.game.n_agents
            peer = np.zeros((self.num_envs, n, n, self._peer.n_outcomes))
            for i, (_, rows) in enumerate(moves):
                peer[:, i, self._others[i]] = rows
            moves = [m for m, _ in moves]
        if self.num_envs == 1:
            return np.array(moves, dtype=np.int64).reshape(1, -1), peer
        return np.stack(moves, axis=1), peer

    def _check_ignored(self, actions: dict[str, Any], movers: tuple[str, ...]) -> None:
        for p, a in actions.items():
            if a is not None and p not in movers:
                if p == PRINCIPAL and self.terms is not None:
                    self._parse_principal(a)
                else:
                    self._parse_agent(p, a)

    # ------------------------------------------------------------------ settlement
    def _settle(
        self, agent_actions: np.ndarray, peer_offers: np.ndarray | None, principal_action: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Play the round's rules, settle money through the contract layer, update the ledger."""
        g, state = self.game, self.state
        tr = g.step(state, agent_actions, principal_action, self.rng)
        state.t += 1
        outcomes = self._no_outcomes if tr.outcomes is None else tr.outcomes
        transfers = None
        if g.transfers:
            peer = None if peer_offers is None else peer_amounts(peer_offers, tr.outcomes)
            transfers = transfer_matrix(self.num_envs, g.n_agents, peer=peer, rules=tr.transfers)
        paid = principal_action if self._pays else None
        s = settle(paid, outcomes, tr.agent_own, tr.principal_own, g.principal_in_welfare, transfers, self.ledger)
        agent_rewards, principal_reward = g.on_settlement(state, s)
        self.ledger.record(s)
        if agent_rewards is s.agent_utility and principal_reward is s.principal_utility:  # rewards = utilities
            rewards = np.take(self.ledger.step_entries()[2], self._reward_columns, axis=0).T
        else:
            rewards = np.empty((self.num_envs, len(self.possible_agents)))
            if self._agent_column:
                rewards[:, 0] = principal_reward
            rewards[:, self._agent_column :] = agent_rewards
        terminated = tr.terminated
        truncated = self._false if g.horizon is None else state.t >= g.horizon
        if np.count_nonzero(terminated):
            truncated = truncated & ~terminated
            self._mark_finished(terminated | truncated)
        elif np.count_nonzero(truncated):
            self._mark_finished(truncated)
        self.outcomes = outcomes
        self._settled = True
        self.stage = 0
        self.offers = self._zero_offers
        return rewards, terminated, truncated, True

    def _empty_offers(self) -> np.ndarray:
        return self._zero_offers

    # ------------------------------------------------------------------ observations and infos
    def observe(self) -> dict[str, Any]:
        g = self.game
        out = {PRINCIPAL: g.observe_principal(self.state)} if self.terms is not None else {}
        agent_obs = g.observe_agents(self.state, self._shown_offers())
        for i, a in enumerate(self.agents):
            out[a] = _take(agent_obs, (slice(None), i))
        return out

    def observe_at(self, env_index: int) -> dict[str, Any]:
        g = self.game
        agent_obs = g.observe_agents(self.state, self._shown_offers())
        out = {}
        if self.terms is not None:
            out[PRINCIPAL] = _take(g.observe_principal(self.state), env_index)
        for i, a in enumerate(self.agents):
            out[a] = _take(agent_obs, (env_index, i))
        return out

    def infos(self, env_index: int | None = None) -> dict[str, dict[str, Any]]:
        led, movers, n = self.ledger, self.stage_movers[self.stage], self.game.n_agents
        outcomes = self.outcomes if self._settled else self._no_outcomes
        extra = self.game.infos(self.state)
        out: dict[str, dict[str, Any]] = {}
        if env_index is None:
            table = led.copy_rows()
            if self.terms is not None:
                info = led.party_info(n, table)
                info["acting"] = PRINCIPAL in movers  # the same in every environment of the batch
                info["outcomes"] = outcomes.copy()
                out[PRINCIPAL] = info
            for i, a in enumerate(self.agents):
                info = led.party_info(i, table)
                info["acting"] = a in movers
                info["outcome"] = outcomes[:, i].copy()
                out[a] = info
            for player, values in extra.items():
                out[player].update({k: np.array(v, copy=True) for k, v in values.items()})
            return out
        b = env_index
        rows, keys = led.rows_at(b), led.info_keys
        if self.terms is not None:
            info = dict(zip(keys, rows[n], strict=True))
            info["acting"] = PRINCIPAL in movers
            info["outcomes"] = outcomes[b].copy()
            out[PRINCIPAL] = info
        codes = outcomes[b].tolist()
        for i, a in enumerate(self.agents):
            info = dict(zip(keys, rows[i], strict=True))
            info["acting"] = a in movers
            info["outcome"] = codes[i]
            out[a] = info
        for player, values in extra.items():
            out[player].update({k: v[b].item() for k, v in values.items()})
        return out


class SequentialContracts(_PrincipalAgentsMachine):
    """Principal-Agent RL timing: an offer stage (the principal's contracts count; agents' moves,
    if given, are only checked), then an act stage (agents' actions count; they observe their
    contracts). A game without a principal has the act stage only."""

    def __init__(self, game: Game, seed: int | None = None, autoreset: bool = True) -> None:
        super().__init__(game, seed, autoreset)
        if self.terms is not None and not isinstance(self.terms, ContractTerms):
            raise TypeError(f"{game.name}: a sequential principal offers ContractTerms, got {self.terms!r}")
        agents = tuple(self.agents)
        if self.terms is not None:
            self.stage_names = ("offer", "act")
            self.stage_movers = ((PRINCIPAL,), agents)
        else:
            self.stage_names = ("act",)
            self.stage_movers = (agents,)
        self.turns = tuple(self.possible_agents)
        self._offer_stage = self.terms is not None

    def _shown_offers(self) -> np.ndarray | None:
        return self.offers if self._offer_stage else None

    def _advance(self, actions: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        if self._offer_stage and self.stage == 0:
            offers = self._parse_principal(actions.get(PRINCIPAL))
            if len(actions) > 1:
                self._check_ignored(actions, self.stage_movers[0])
            self.offers = offers
            self.stage = 1
            self._settled = False
            self.ledger.clear_step()
            return self._zero_rewards, self._false, self._false, False
        agent_actions, peer = self._agent_moves(actions)
        if self._offer_stage:
            ignored = actions.get(PRINCIPAL)
            if ignored is not None:  # does not count in the act stage: checked only
                self._parse_principal(ignored)
        return self._settle(agent_actions, peer, self.offers if self._offer_stage else None)


class SimultaneousIncentives(_PrincipalAgentsMachine):
    """Incentive-design timing: one stage per round; the designer's move (a payment schedule over the
    agents' outcomes, or a policy such as tax rates) is chosen with the agents' actions, applied and
    settled right after; agents never observe it. Without a designer, the agents alone."""

    def __init__(self, game: Game, seed: int | None = None, autoreset: bool = True) -> None:
        super().__init__(game, seed, autoreset)
        self.stage_names = ("act",)
        self.stage_movers = (tuple(self.possible_agents),)
        self.turns = tuple(self.possible_agents)

    def _advance(self, actions: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        agent_actions, peer = self._agent_moves(actions)
        move = None
        if self.terms is not None:
            move = self._parse_principal(actions.get(PRINCIPAL))
            if self._pays:
                self.offers = move
        return self._settle(agent_actions, peer, move)


class HierarchicalContracts(StageMachine):
    """A tree of principals: one offer stage per depth that has inner nodes, top-down (a node sees its
    parent's contract before it makes its own offers), then an act stage in which every node acts;
    each edge is settled by the contract layer (:func:`~contract_envs.contracts.settle_hierarchy`).

    An inner node's move is a dict with exactly its own ``action`` and its offer to its children
    (``recommendations`` + ``transfers``, or ``contracts`` with ``contract_form="vector"``), checked as a
    whole in every stage; the offer counts in its offer stage, ``action`` in the act stage. In the act
    stage an inner node may instead give its bare action (what the agents-only view does). In the AEC
    form every node has one turn per round (breadth-first order) in which both parts count."""

    def __init__(self, game: HierarchicalGame, seed: int | None = None, autoreset: bool = True) -> None:
        if not isinstance(game, HierarchicalGame):
            raise TypeError(f"HierarchicalContracts runs a HierarchicalGame, got {type(game).__name__}")
        super().__init__(game, seed, autoreset)
        self.parents = np.asarray(game.parents, dtype=np.int64)
        n = len(game.parents)
        self.children = [[w for w in range(n) if game.parents[w] == v] for v in range(n)]
        self.depth = [0] * n
        for v in range(1, n):
            self.depth[v] = self.depth[game.parents[v]] + 1
        self.inner = [v for v in range(n) if self.children[v]]
        depths = sorted({self.depth[v] for v in self.inner})
        nodes = self.possible_agents
        self.stage_names = tuple(f"offer@depth{d}" for d in depths) + ("act",)
        self.stage_movers = tuple(tuple(nodes[v] for v in self.inner if self.depth[v] == d) for d in depths) + (
            tuple(nodes),
        )
        self.turns = tuple(nodes)
        self._index = {p: v for v, p in enumerate(nodes)}
        self.k_max = max(game.node_actions)
        self.ledger = HierarchyLedger(self.num_envs, n)
        self.offers = np.zeros((self.num_envs, n, self.k_max))
        self._no_outcomes = np.full((self.num_envs, n), -1, dtype=np.int64)
        self.outcomes = self._no_outcomes
        self._settled = False
        self._terms = {
            v: ContractTerms(
                len(self.children[v]), max(game.node_actions[w] for w in self.children[v]), game.payment_cap
            )
            for v in self.inner
        }
        self._transfer_terms = {v: ContractTerms(len(self.children[v]), 1, game.payment_cap) for v in self.inner}

    # ------------------------------------------------------------------ parsing
    def _parse(self, player: str, action: Any, stage: int) -> Any:
        v = self._index[player]
        if stage == len(self.stage_names) - 1:
            return self._act_move(player, v, action)
        return self._offer(player, v, action)

    def _act_move(self, player: str, v: int, action: Any) -> np.ndarray:
        """Node ``v``'s own action ``[B]`` in the act stage: an inner node's whole move (its offer part is
        checked) or its bare action; a leaf's action."""
        if self.children[v] and type(action) is dict:
            self._offer(player, v, action)  # the whole move is checked, the offer does not count now
            action = action["action"]
        return self._node_action(player, v, action)

    def _node_action(self, player: str, v: int, action: Any) -> np.ndarray:
        n = self.game.node_actions[v]
        if type(action) is int and 0 <= action < n:
            return np.full(self.num_envs, action, dtype=np.int64)
        if action is None:
            raise ValueError(f"{player}: no action given; expected an int in [0, {n - 1}]")
        a = action if type(action) is np.ndarray else np.asarray(action)
        if a.dtype.kind not in "iu" or a.shape not in ((), (self.num_envs,)):
            raise ValueError(f"{player}: action {action!r} is not an int (or [{self.num_envs}] ints) in [0, {n - 1}]")
        if a.min() < 0 or a.max() >= n:
            raise ValueError(f"{player}: action {action!r} is out of range; allowed [0, {n - 1}]")
        if a.shape == (self.num_envs,):
            return a.astype(np.int64, copy=False)
        return np.full(self.num_envs, a, dtype=np.int64)

    def _offer(self, player: str, v: int, action: Any) -> np.ndarray:
        """Node ``v``'s offer as payment-per-action rows ``[B, n_children, K_c]`` (validated)."""
        g, kids = self.game, self.children[v]
        names = [self.possible_agents[w] for w in kids]
        keys = ("recommendations", "transfers") if g.contract_form == "recommendation" else ("contracts",)
        expected = ["action", *keys]
        if type(action) is not dict or set(action) != set(expected):
            got = f"keys {sorted(action, key=str)}" if type(action) is dict else repr(action)
            raise ValueError(
                f"{player}: an inner node's move is a dict with exactly the keys {expected} (its own action and its "
                f"offer to its children {names}) in every stage; expected those keys, got {got}"
            )
        terms = self._terms[v]
        if g.contract_form == "recommendation":
            rec = np.asarray(action["recommendations"])
            if rec.shape == (len(kids),) and self.num_envs == 1:
                rec = rec[None]
            if rec.shape != (self.num_envs, len(kids)) or rec.dtype.kind not in "iu":
                raise ValueError(
                    f"{player}: recommendations must be ints of shape ({len(kids)},) per environment (one action per "
                    f"child {names}), got {rec.dtype} {np.shape(action['recommendations'])}"
                )
            for j, w in enumerate(kids):
                bad = (rec[:, j] < 0) | (rec[:, j] >= g.node_actions[w])
                if bad.any():
                    raise ValueError(
                        f"{player}: recommended action {int(rec[bad, j][0])} for {names[j]} is out of range; "
                        f"allowed [0, {g.node_actions[w] - 1}]"
                    )
            pay = self._transfer_terms[v].validate(
                np.asarray(action["transfers"])[..., None], self.num_envs, player=player, recipients=names
            )
            offer = np.zeros((self.num_envs, len(kids), terms.n_outcomes))
            rows = np.arange(self.num_envs)[:, None]
            offer[rows, np.arange(len(kids))[None], rec] = pay[..., 0]
        else:
            offer = terms.validate(action["contracts"], self.num_envs, player=player, recipients=names)
            for j, w in enumerate(kids):
                k_w = g.node_actions[w]
                if np.any(offer[:, j, k_w:] > 0):
                    raise ValueError(
                        f"{player}: contract to {names[j]} pays for actions >= {k_w}, which it does not have "
                        f"(allowed range of those entries: [0, 0])"
                    )
        self._node_action(player, v, action["action"])  # does not count in the offer stage: checked only
        return offer

    # ------------------------------------------------------------------ stages
    def _advance(self, actions: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        movers = self.stage_movers[self.stage]
        last = len(self.stage_names) - 1
        if self.stage < last:
            offers = []
            for p in movers:
                if p not in actions or actions[p] is None:
                    raise ValueError(f"{p}: no offer given in stage {self.stage_names[self.stage]!r}")
                offers.append(self._offer(p, self._index[p], actions[p]))
            self._check_ignored(actions, movers)
            if self.stage == 0:
                self.ledger.clear_step()
            for p, offer in zip(movers, offers, strict=True):
                for j, w in enumerate(self.children[self._index[p]]):
                    self.offers[:, w, : offer.shape[2]] = offer[:, j]
            self.stage += 1
            self._settled = False
            return self._zero_rewards, self._false, self._false, False
        joint = np.empty((self.num_envs, len(movers)), dtype=np.int64)
        for v, p in enumerate(self.possible_agents):
            if p not in actions or actions[p] is None:
                raise ValueError(f"{p}: no action given in the act stage")
            joint[:, v] = self._act_move(p, v, actions[p])
        g, state = self.game, self.state
        tr = g.step(state, joint, self.offers, self.rng)  # the settled offers (the game may record them)
        state.t += 1
        s = settle_hierarchy(self.offers, joint, tr.agent_own, self.parents)
        self.ledger.record(s)
        rewards = s.utility.copy()
        truncated = self._false if g.horizon is None else (state.t >= g.horizon) & ~tr.terminated
        self.outcomes = joint
        self._settled = True
        self.stage = 0
        self.offers = np.zeros_like(self.offers)
        if np.count_nonzero(tr.terminated) or np.count_nonzero(truncated):
            self._mark_finished(tr.terminated | truncated)
        return rewards, tr.terminated, truncated, True

    def _empty_offers(self) -> np.ndarray:
        return np.zeros_like(self.offers)  # written in place by the offer stages

    def _shown_offers(self) -> np.ndarray:
        return self.offers

    def global_state(self) -> np.ndarray:
        return self.game.global_state(self.state, self.offers, stage=self.stage)

    # ------------------------------------------------------------------ observations and infos
    def observe(self) -> dict[str, Any]:
        return self.game.observe_nodes(self.state, self.stage, self.offers)

    def observe_at(self, env_index: int) -> dict[str, Any]:
        return {p: _take(o, env_index) for p, o in self.observe().items()}

    def infos(self, env_index: int | None = None) -> dict[str, dict[str, Any]]:
        led, movers = self.ledger, self.stage_movers[self.stage]
        outcomes = self.outcomes if self._settled else self._no_outcomes
        out = {}
        for v, p in enumerate(self.possible_agents):
            if env_index is None:
                info = {k: val.copy() for k, val in led.node_info(v).items()}
                info["acting"] = np.full(self.num_envs, p in movers)
                info["outcome"] = outcomes[:, v].copy()
            else:
                info = dict(zip(led.info_keys, led.node[env_index, v].tolist(), strict=True))
                info["acting"] = p in movers
                info["outcome"] = int(outcomes[env_index, v])
            out[p] = info
        return out


MACHINES = {SEQUENTIAL: SequentialContracts, SIMULTANEOUS: SimultaneousIncentives, HIERARCHICAL: HierarchicalContracts}


def machine_for(game: Game, seed: int | None = None, autoreset: bool = True) -> StageMachine:
    """The stage machine that runs ``game`` (by its declared ``timing``)."""
    if game.timing not in MACHINES:
        raise ValueError(f"{game.name}: unknown timing {game.timing!r}; known: {sorted(MACHINES)}")
    return MACHINES[game.timing](game, seed=seed, autoreset=autoreset)


__all__ = [
    "MACHINES",
    "HierarchicalContracts",
    "MachineSnapshot",
    "SequentialContracts",
    "SimultaneousIncentives",
    "StageMachine",
    "machine_for",
]
