"""The hierarchical environments inside TorchRL/BenchMARL's PettingZoo wrapper."""

import warnings

import numpy as np
import pytest

import contract_envs

torch = pytest.importorskip("torch")
torchrl_envs = pytest.importorskip("torchrl.envs")


def _wrap(parallel_env, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchRL warns about the PettingZoo version it was tested with
        return torchrl_envs.PettingZooWrapper(parallel_env, return_state=True, done_on_any=False, **kwargs)


def test_torchrl_tree_one_group_per_node_conserves_money():
    # nodes have different spaces (inner nodes offer contracts, leaves do not): one group per node
    env = _wrap(
        contract_envs.make("parallel", "contract_envs/tree_contracts-v1", instance="T2", horizon=4),
        group_map=torchrl_envs.MarlGroupMapType.ONE_GROUP_PER_AGENT,
    )
    assert env.group_map == {f"node_{v}": [f"node_{v}"] for v in range(3)}
    torch.manual_seed(0)
    rollout = env.rollout(8)  # 4 rounds x (offer, act)
    nxt = rollout["next"]
    assert bool(nxt["done"][-1]) and not bool(nxt["done"][:-1].any())
    info = {v: nxt[f"node_{v}", "info"] for v in range(3)}
    received = sum(info[v]["payment_received"].squeeze(-1).numpy() for v in range(3))
    paid = sum(info[v]["payment_paid"].squeeze(-1).numpy() for v in range(3))
    np.testing.assert_allclose(received, paid)
    rewards = sum(nxt[f"node_{v}", "reward"].sum().item() for v in range(3))
    assert rewards == pytest.approx(info[0]["welfare"].sum().item(), abs=1e-5)  # transfers cancel
    assert rollout["state"].shape == (8, 1 + 3 * 3 + 2 * 3)
    outcome = torch.stack([info[v]["outcome"].squeeze(-1) for v in range(3)], dim=-1)
    assert (outcome[0::2] == -1).all() and ((outcome[1::2] >= 0) & (outcome[1::2] < 3)).all()


def test_torchrl_bandit_groups_roles():
    env = _wrap(contract_envs.make("parallel", "contract_envs/contract_bandit-v1", horizon=3))
    assert env.group_map == {"principal": ["principal_0"], "agent": ["agent_0"]}
    rollout = env.rollout(6)
    nxt = rollout["next"]
    np.testing.assert_allclose(nxt["principal", "info", "payment"].numpy(), nxt["agent", "info", "payment"].numpy())
    assert bool(nxt["done"][-1])
