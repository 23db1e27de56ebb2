"""Registration of every environment in PettingZoo's registry (and the package's ``make``).

Each entry maps an environment name to the module implementing it (a module exposing ``env``,
``raw_env`` and ``parallel_env`` in PettingZoo's convention). Ids are
``contract_envs/<name>-v<version>``.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import gymnasium
import pettingzoo

NAMESPACE = "contract_envs"

# name -> (version, implementation module)
ENVIRONMENTS: dict[str, tuple[int, str]] = {
    "principal_agent_mdp": (0, "contract_envs.envs.principal_agent_mdp"),
    "escape_room": (0, "contract_envs.envs.escape_room"),
    "prisoners_dilemma": (0, "contract_envs.envs.prisoners_dilemma"),
    "cleanup": (0, "contract_envs.envs.cleanup"),
    "tax_economy": (0, "contract_envs.envs.tax_economy"),
    "tree_contracts": (0, "contract_envs.envs.tree_contracts"),
    "contract_bandit": (0, "contract_envs.envs.contract_bandit"),
    "coin_game": (0, "contract_envs.envs.coin_game"),
}

# Gymnasium ids of single-agent role views (``gymnasium.make("contract_envs/<Name>-v<N>")``) -> entry point
GYMNASIUM_ENVIRONMENTS: dict[str, str] = {
    "CoinGamePrincipal-v0": "contract_envs.envs.coin_game:principal_gym_env",
}


def env_ids() -> list[str]:
    return [f"{NAMESPACE}/{name}-v{version}" for name, (version, _) in ENVIRONMENTS.items()]


def _resolve(env_id: str) -> str:
    """Module of an id ``[contract_envs/]name[-vN | _vN]``; clear error listing known ids."""
    name = env_id.split("/", 1)[1] if env_id.startswith(NAMESPACE + "/") else env_id
    version = None
    for sep in ("-v", "_v"):
        head, _, tail = name.rpartition(sep)
        if head and tail.isdigit():
            name, version = head, int(tail)
            break
    if name not in ENVIRONMENTS or (version is not None and version != ENVIRONMENTS[name][0]):
        raise ValueError(f"unknown environment id {env_id!r}; registered ids: {env_ids()}")
    return ENVIRONMENTS[name][1]


def register_all() -> None:
    """Register every environment's AEC and Parallel creators with PettingZoo, and the role views
    of ``GYMNASIUM_ENVIRONMENTS`` with Gymnasium (idempotent)."""
    for name, entry_point in GYMNASIUM_ENVIRONMENTS.items():
        if f"{NAMESPACE}/{name}" not in gymnasium.registry:
            gymnasium.register(id=f"{NAMESPACE}/{name}", entry_point=entry_point)
    if not hasattr(pettingzoo, "register"):  # PettingZoo < 1.27 has no registry
        return
    for name, (version, module) in ENVIRONMENTS.items():
        env_id = f"{NAMESPACE}/{name}-v{version}"
        for env_type, attr in (("aec", "env"), ("parallel", "parallel_env")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # re-registration on reload warns "Overriding"
                pettingzoo.register(env_type, env_id, entry_point=f"{module}:{attr}")


def make(env_type: str, env_id: str, **kwargs: Any):
    """Create an environment: ``make("parallel" | "aec", "contract_envs/<name>-v0", **kwargs)``."""
    if env_type not in ("aec", "parallel"):
        raise ValueError(f"env_type must be 'aec' or 'parallel', got {env_type!r}")
    module = importlib.import_module(_resolve(env_id))
    return (module.parallel_env if env_type == "parallel" else module.env)(**kwargs)


def game_factory(env_id: str):
    """The ``make_game`` of an environment (used by the batched API)."""
    module = importlib.import_module(_resolve(env_id))
    return module.parallel_env.make_game
