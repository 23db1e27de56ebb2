"""The registry: one line per game, id -> (version, rules module).

A rules module (``contract_envs/games/<name>.py``) exposes ``make_game(num_envs=1, **kwargs)``
returning its :class:`~contract_envs.core.game.Game`; everything else - the batched API
(``contract_envs.vector.make``), the PettingZoo Parallel and AEC environments, the Gymnasium role
views - is built from that by generic code. Ids are ``contract_envs/<name>-v<version>``; at import
every id is registered with PettingZoo (``pettingzoo.make("aec" | "parallel", id)``) and the
Gymnasium ids of :data:`GYMNASIUM_ENVIRONMENTS` with Gymnasium, by lazy string entry points (nothing
heavy is imported until an environment is made).

Adding a game: write ``contract_envs/games/<name>.py`` and add its line to :data:`ENVIRONMENTS`.
"""

from __future__ import annotations

import importlib
import types
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium
import pettingzoo

NAMESPACE = "contract_envs"

# name -> (version, rules module exposing make_game)
ENVIRONMENTS: dict[str, tuple[int, str]] = {
    "principal_agent_mdp": (1, "contract_envs.games.principal_agent_mdp"),
    "escape_room": (1, "contract_envs.games.escape_room"),
    "prisoners_dilemma": (1, "contract_envs.games.prisoners_dilemma"),
    "cleanup": (1, "contract_envs.games.cleanup"),
    "tax_economy": (1, "contract_envs.games.tax_economy"),
    "tree_contracts": (1, "contract_envs.games.tree_contracts"),
    "contract_bandit": (1, "contract_envs.games.contract_bandit"),
    "coin_game": (1, "contract_envs.games.coin_game"),
    "gather_trade_build": (0, "contract_envs.games.gather_trade_build"),
}

# Gymnasium ids -> (entry point, default kwargs): the principal's view of every game whose agents have a reference
# policy (``Game.default_policy``) and the single-agent view of every game with one agent.
# ``gymnasium.make("contract_envs:contract_envs/<Name>-v<N>")`` imports this package first, so it needs no import.
GYMNASIUM_ENVIRONMENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "CoinGamePrincipal-v1": ("contract_envs.adapters.views:PrincipalGymEnv", {"env_id": "contract_envs/coin_game-v1"}),
    "ContractBanditPrincipal-v1": (
        "contract_envs.adapters.views:PrincipalGymEnv",
        {"env_id": "contract_envs/contract_bandit-v1"},
    ),
    "PrincipalAgentMDPAgent-v1": (
        "contract_envs.wrappers:SingleAgentGymEnv",
        {"env_id": "contract_envs/principal_agent_mdp-v1"},
    ),
    "ContractBanditAgent-v1": (
        "contract_envs.wrappers:SingleAgentGymEnv",
        {"env_id": "contract_envs/contract_bandit-v1"},
    ),
}


@dataclass(frozen=True)
class EnvSpec:
    """A registered game: ``name``, ``version`` and the rules ``module``."""

    name: str
    version: int
    module: str

    @property
    def id(self) -> str:
        return f"{NAMESPACE}/{self.name}-v{self.version}"

    @property
    def rules(self) -> types.ModuleType:
        """The rules module (its docstring is the environment's documentation page)."""
        return importlib.import_module(self.module)

    def make_game(self, num_envs: int = 1, **kwargs: Any):
        """The game's rules for ``num_envs`` environments (``make_game`` of the rules module)."""
        return self.rules.make_game(num_envs=num_envs, **kwargs)


def env_ids() -> list[str]:
    """Every registered id, ``contract_envs/<name>-v<version>``."""
    return [spec(name).id for name in ENVIRONMENTS]


def spec(env_id: str) -> EnvSpec:
    """The :class:`EnvSpec` of ``[contract_envs/]name[-vN | _vN]``; a clear error for unknown ids or versions."""
    if not isinstance(env_id, str):
        raise ValueError(f"env_id must be a str such as {env_ids()[0]!r}, got {env_id!r}")
    name = env_id.split("/", 1)[1] if env_id.startswith(NAMESPACE + "/") else env_id
    version = None
    for sep in ("-v", "_v"):
        head, _, tail = name.rpartition(sep)
        if head and tail.isdigit():
            name, version = head, int(tail)
            break
    if name not in ENVIRONMENTS:
        raise ValueError(f"unknown environment id {env_id!r}; registered ids: {env_ids()}")
    current, module = ENVIRONMENTS[name]
    if version is not None and version != current:
        raise ValueError(
            f"{env_id!r}: version {version} is not available; the current version is "
            f"{NAMESPACE}/{name}-v{current} (see the Version History of its documentation page)"
        )
    return EnvSpec(name, current, module)


def register_all() -> None:
    """Register every id with PettingZoo (AEC and Parallel) and the Gymnasium ids (idempotent)."""
    for name, (entry_point, kwargs) in GYMNASIUM_ENVIRONMENTS.items():
        if f"{NAMESPACE}/{name}" not in gymnasium.registry:
            gymnasium.register(id=f"{NAMESPACE}/{name}", entry_point=entry_point, kwargs=dict(kwargs))
    if not hasattr(pettingzoo, "register"):  # PettingZoo < 1.27 has no registry
        return
    for name in ENVIRONMENTS:
        env_id = spec(name).id
        for env_type, cls in (("aec", "AECContractEnv"), ("parallel", "ParallelContractEnv")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # re-registration on reload warns "Overriding"
                pettingzoo.register(
                    env_type, env_id, entry_point=f"contract_envs.adapters.pettingzoo:{cls}", kwargs={"env_id": env_id}
                )


__all__ = ["ENVIRONMENTS", "GYMNASIUM_ENVIRONMENTS", "NAMESPACE", "EnvSpec", "env_ids", "register_all", "spec"]
