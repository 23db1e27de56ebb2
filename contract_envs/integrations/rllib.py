"""RLlib: every registered game as a turn-based ``MultiAgentEnv``, and a role-based policy mapping.

Only the players whose move counts in a step are in the observation dict
(:class:`~contract_envs.wrappers.TurnBasedEnv`), so no learner ever trains on an ignored move: with
Principal-Agent RL timing one round is one step of the principal (its offer) and one step of the
agents (their actions), so each player takes one step per round. Observations are flattened to one
``Box`` (``observations="image"`` keeps a CNN-ready ``[H, W, C]`` grid) and the principal's
``[N, O]`` contract to a 1-D ``Box`` that is clipped into its bounds (RLlib's Gaussian policies
sample outside them).

Usage::

    from ray.rllib.algorithms.ppo import PPOConfig
    from contract_envs.integrations import rllib

    config = rllib.configure(PPOConfig(), "contract_envs/coin_game-v1", horizon=20)
    algo = config.build_algo()
    algo.train()

Needs the ``rllib`` extra (``pip install "contract-envs[rllib]"``).
"""

from __future__ import annotations

from typing import Any

from ray.rllib.env.multi_agent_env import MultiAgentEnv
from ray.tune.registry import register_env

from contract_envs.registry import spec
from contract_envs.wrappers import TurnBasedEnv, group_map

WRAPPER_KEYS = ("observations", "actions", "clip_actions", "channels")
DEFAULTS = {"observations": "flat", "actions": "flat", "clip_actions": True, "channels": "last"}


class ContractMultiAgentEnv(MultiAgentEnv):
    """A registered game as an RLlib ``MultiAgentEnv`` (turn-based; see the module docstring).

    ``config``: ``env_id`` (required), the wrapper options ``observations`` (``"flat"``, ``"image"``,
    ``"raw"``), ``actions`` (``"flat"``, ``"raw"``), ``clip_actions``, ``channels``, and the game's
    arguments (its documentation page lists them).
    """

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        config = dict(config or {})
        if "env_id" not in config:
            raise ValueError("ContractMultiAgentEnv: config needs 'env_id', e.g. 'contract_envs/coin_game-v1'")
        env_id = config.pop("env_id")
        options = {k: config.pop(k, DEFAULTS[k]) for k in WRAPPER_KEYS}
        self.env = TurnBasedEnv(env_id, **options, **config)
        self.possible_agents = list(self.env.possible_agents)
        self.agents = list(self.possible_agents)
        self.observation_spaces = dict(self.env.observation_spaces)
        self.action_spaces = dict(self.env.action_spaces)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        return self.env.reset(seed=seed, options=options)

    def step(self, action_dict: dict[str, Any]):
        obs, rewards, terms, truncs, infos = self.env.step(action_dict)
        terms["__all__"] = all(terms.values())
        truncs["__all__"] = all(truncs.values())
        return obs, rewards, terms, truncs, infos

    def render(self) -> str:
        return self.env.render()


def env_creator(config: dict[str, Any]) -> ContractMultiAgentEnv:
    """The creator ``register_env`` takes: ``config`` holds ``env_id`` and the options."""
    return ContractMultiAgentEnv(dict(config))


def register(env_id: str | None = None) -> list[str]:
    """Register ``env_id`` (default: every id) with Ray Tune under its own id; returns the names."""
    from contract_envs.registry import env_ids

    ids = [spec(env_id).id] if env_id is not None else env_ids()
    for name in ids:
        register_env(name, lambda config, name=name: env_creator({"env_id": name, **dict(config)}))
    return ids


class RoleMapping:
    """``policy_mapping_fn``: each player to its role's policy (``principal``, ``agent``; a node of a
    tree, whose spaces differ from its siblings', to its own). Picklable, so it reaches Ray workers."""

    def __init__(self, groups: dict[str, list[str]]) -> None:
        self.groups = {k: list(v) for k, v in groups.items()}
        self._policy = {p: g for g, players in groups.items() for p in players}

    @property
    def policies(self) -> set[str]:
        return set(self.groups)

    def __call__(self, agent_id: str, episode: Any = None, **kwargs: Any) -> str:
        if agent_id not in self._policy:
            raise ValueError(f"unknown player {agent_id!r}; players are {sorted(self._policy)}")
        return self._policy[agent_id]


def role_mapping(env_id: str, **env_config: Any) -> RoleMapping:
    """The role-based policy mapping of ``env_id`` (players sharing a role and its spaces share a policy)."""
    return RoleMapping(group_map(ContractMultiAgentEnv({"env_id": env_id, **env_config}).env))


def configure(config: Any, env_id: str, **env_config: Any) -> Any:
    """``config`` (an RLlib ``AlgorithmConfig``) set up for ``env_id``: registered environment, env config,
    one policy per role with :func:`role_mapping`. ``env_config``: wrapper options and game arguments."""
    name = register(env_id)[0]
    mapping = role_mapping(env_id, **env_config)
    return config.environment(name, env_config=dict(env_config)).multi_agent(
        policies=mapping.policies, policy_mapping_fn=mapping
    )


__all__ = ["ContractMultiAgentEnv", "RoleMapping", "configure", "env_creator", "register", "role_mapping"]
