"""BenchMARL: a ``TaskClass`` for every registered game, the full game and the agents-only game.

``ContractEnvsTask.<NAME>`` is the full game with its principal (``COIN_GAME``), and
``ContractEnvsTask.<NAME>_AGENTS_ONLY`` the agents' game with no contracts (the agents-only view,
:class:`~contract_envs.views.AgentsOnlyParallelEnv`). Defaults come from the yaml files in
``contract_envs/integrations/benchmarl_conf/contract_envs/`` (``env_id``, ``agents_only``,
``max_steps``, the game's arguments under ``kwargs``); ``get_task(config={...})`` overrides them.

Observations are flattened to one vector per player and the principal's ``[N, O]`` contract to a 1-D
continuous action (:mod:`contract_envs.wrappers`), so BenchMARL's stock MLP models and algorithms
(MAPPO, IPPO, ...) run unchanged: each group is continuous or discrete by its own action spec
(the principal continuous, the agents discrete). Groups are roles (``principal``, ``agent``; the
nodes of a tree one group each).

With Principal-Agent RL timing a round is two Parallel steps (the principal's offer, then the
agents' actions); in each step the moves of the players who do not move in it are ignored by the
game (``infos[p]["acting"]``), which BenchMARL's learners, having no notion of turns, still train on.
RLlib's turn-based env (:mod:`contract_envs.integrations.rllib`) avoids that.

Usage::

    from benchmarl.algorithms import MappoConfig
    from benchmarl.experiment import Experiment, ExperimentConfig
    from benchmarl.models import MlpConfig
    from contract_envs.integrations.benchmarl import ContractEnvsTask

    Experiment(task=ContractEnvsTask.COIN_GAME.get_from_yaml(), algorithm_config=MappoConfig.get_from_yaml(),
               model_config=MlpConfig.get_from_yaml(), critic_model_config=MlpConfig.get_from_yaml(),
               seed=0, config=ExperimentConfig.get_from_yaml()).run()

Needs the ``benchmarl`` extra. BenchMARL 1.5.2 imports ``torchrl.collectors.SyncDataCollector``,
which TorchRL 0.12+ renamed ``Collector`` (same arguments); importing this module adds the old name
back when it is missing, so BenchMARL runs on the TorchRL the suite uses.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torchrl.collectors

if not hasattr(torchrl.collectors, "SyncDataCollector"):  # TorchRL >= 0.12 (see the module docstring)
    torchrl.collectors.SyncDataCollector = torchrl.collectors.Collector

from benchmarl.environments.common import Task, TaskClass  # noqa: E402
from benchmarl.utils import _read_yaml_config  # noqa: E402
from torchrl.data import Composite  # noqa: E402
from torchrl.envs import EnvBase  # noqa: E402

from contract_envs.integrations.torchrl import make_env  # noqa: E402
from contract_envs.registry import env_ids, spec  # noqa: E402

CONF_DIR = Path(__file__).parent / "benchmarl_conf"
ENV_NAME = "contract_envs"


def task_name(env_id: str, agents_only: bool = False) -> str:
    """The task's enum name: ``COIN_GAME`` or ``COIN_GAME_AGENTS_ONLY``."""
    return spec(env_id).name.upper() + ("_AGENTS_ONLY" if agents_only else "")


def yaml_path(name: str) -> Path:
    return CONF_DIR / ENV_NAME / f"{name.lower()}.yaml"


class ContractEnvsClass(TaskClass):
    """A contract-envs game in BenchMARL (see the module docstring). ``config``: ``env_id``,
    ``agents_only``, ``max_steps`` (Parallel steps per episode at most) and ``kwargs`` (game arguments)."""

    def get_env_fun(
        self, num_envs: int, continuous_actions: bool, seed: int | None, device: Any
    ) -> Callable[[], EnvBase]:
        config = copy.deepcopy(self.config)
        return lambda: make_env(
            config["env_id"],
            agents_only=config.get("agents_only", False),
            observations="flat",
            actions="flat",
            seed=seed,
            device=device,
            **config.get("kwargs", {}),
        )

    def supports_continuous_actions(self) -> bool:
        return True  # the principal's contract; the agents' groups stay discrete (per-group action spec)

    def supports_discrete_actions(self) -> bool:
        return True

    def has_render(self, env: EnvBase) -> bool:
        return False

    def max_steps(self, env: EnvBase) -> int:
        return int(self.config["max_steps"])

    def group_map(self, env: EnvBase) -> dict[str, list[str]]:
        return env.group_map

    def _only(self, env: EnvBase, key: str) -> Composite:
        observation_spec = env.observation_spec.clone()
        for group in self.group_map(env):
            group_spec = observation_spec[group]
            for k in list(group_spec.keys()):
                if k != key:
                    del group_spec[k]
            if group_spec.is_empty():
                del observation_spec[group]
        if "state" in observation_spec.keys():
            del observation_spec["state"]
        return observation_spec

    def observation_spec(self, env: EnvBase) -> Composite:
        return self._only(env, "observation")

    def info_spec(self, env: EnvBase) -> Composite | None:
        spec_ = self._only(env, "info")
        return None if spec_.is_empty() else spec_

    def state_spec(self, env: EnvBase) -> Composite | None:
        if "state" in env.observation_spec.keys():
            return Composite({"state": env.observation_spec["state"].clone()})
        return None

    def action_mask_spec(self, env: EnvBase) -> Composite | None:
        return None

    def action_spec(self, env: EnvBase) -> Composite:
        return env.full_action_spec

    @staticmethod
    def env_name() -> str:
        return ENV_NAME


def _get_from_yaml(self: Task, path: str | None = None) -> TaskClass:
    """The task with its defaults from this package's yaml (or from ``path``)."""
    config = _read_yaml_config(str(path if path is not None else yaml_path(self.name)))
    return self.get_task(config=config)


def _make_task_enum() -> type[Task]:
    names = [task_name(i, agents_only) for i in env_ids() for agents_only in (False, True)]
    body = enum.EnumMeta.__prepare__("ContractEnvsTask", (Task,))
    for name in names:
        body[name] = None
    body["associated_class"] = staticmethod(lambda: ContractEnvsClass)
    body["get_from_yaml"] = _get_from_yaml
    body["__module__"] = __name__
    body["__doc__"] = "Every contract-envs game as a BenchMARL task: ``<NAME>`` (full game), ``<NAME>_AGENTS_ONLY``."
    return enum.EnumMeta("ContractEnvsTask", (Task,), body)


ContractEnvsTask = _make_task_enum()


def default_config(env_id: str, agents_only: bool = False) -> dict[str, Any]:
    """The defaults a task's yaml holds: ``max_steps`` from the game's horizon (rounds) times its
    Parallel steps per round (1 in the agents-only view)."""
    from contract_envs.core.machines import machine_for

    env_spec = spec(env_id)
    machine = machine_for(env_spec.make_game(num_envs=1))
    rounds = machine.game.horizon
    levels = getattr(machine.game, "levels", None)
    if rounds is None and levels is not None:  # an acyclic game ends within its number of decision levels
        rounds = len(levels)
    if rounds is None:
        raise ValueError(f"{env_id}: no horizon; give max_steps in the task config")
    steps = rounds * (1 if agents_only else machine.stages_per_round)
    return {"env_id": env_spec.id, "agents_only": agents_only, "max_steps": steps, "kwargs": {}}


def write_yaml() -> list[Path]:
    """Write every task's yaml defaults (:func:`default_config`); run after adding a game."""
    import yaml

    paths = []
    for env_id in env_ids():
        for agents_only in (False, True):
            path = yaml_path(task_name(env_id, agents_only))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(default_config(env_id, agents_only), sort_keys=False))
            paths.append(path)
    return paths


if __name__ == "__main__":
    print("\n".join(str(p) for p in write_yaml()))


__all__ = [
    "CONF_DIR",
    "ContractEnvsClass",
    "ContractEnvsTask",
    "default_config",
    "task_name",
    "write_yaml",
    "yaml_path",
]
