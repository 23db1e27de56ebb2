"""TorchRL: check_env_specs passes for every game, full and agents-only, raw and flattened."""

import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchrl")  # the "test" extra, so this always runs in CI
from torchrl.envs.utils import check_env_specs  # noqa: E402

from contract_envs.integrations.torchrl import make_env  # noqa: E402
from tests.ecosystem_cases import TORCHRL_CASES  # noqa: E402


@pytest.mark.parametrize(
    "env_id,agents_only,layout",
    TORCHRL_CASES,
    ids=[f"{c[0].split('/')[1]}-{'agents' if c[1] else 'full'}-{c[2]}" for c in TORCHRL_CASES],
)
def test_torchrl_check_env_specs(env_id, agents_only, layout):
    env = make_env(env_id, agents_only=agents_only, observations=layout, actions=layout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env_specs(env, seed=0)
    players = [p for group in env.group_map.values() for p in group]
    if agents_only:
        assert "principal_0" not in players
    else:
        assert players[0] in ("principal_0", "node_0")
    rollout = env.rollout(4, break_when_any_done=False)  # resets when an episode ends
    assert rollout.batch_size == torch.Size([4])


def test_tree_nodes_get_a_group_each():
    env = make_env("contract_envs/tree_contracts-v1")
    assert env.group_map == {f"node_{v}": [f"node_{v}"] for v in range(3)}
    with pytest.raises(ValueError, match="agents_only=True"):
        make_env("contract_envs/coin_game-v1", principal_policy=lambda obs: None)
