"""The environments inside other MARL stacks (TorchRL/BenchMARL's PettingZoo wrapper)."""

import warnings

import numpy as np
import pytest

import contract_envs

torch = pytest.importorskip("torch")
torchrl_envs = pytest.importorskip("torchrl.envs")  # installed by the "test" extra, so this always runs in CI


def test_torchrl_pettingzoo_wrapper_groups_roles_and_keeps_the_ledger():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchRL warns about the PettingZoo version it was tested with
        env = torchrl_envs.PettingZooWrapper(
            contract_envs.make("parallel", "contract_envs/principal_agent_mdp-v1", depth=3),
            return_state=True,
            done_on_any=False,
        )
    assert env.group_map == {"principal": ["principal_0"], "agent": ["agent_0"]}
    torch.manual_seed(0)
    rollout = env.rollout(6)  # depth 3 = 3 rounds = 6 Parallel steps
    nxt = rollout["next"]
    assert bool(nxt["done"][-1])
    paid = nxt["principal", "info", "payment"].squeeze(-1).numpy()
    received = nxt["agent", "info", "payment"].squeeze(-1).numpy()
    np.testing.assert_allclose(paid, received)  # money is conserved in every step
    rewards = nxt["principal", "reward"].sum().item() + nxt["agent", "reward"].sum().item()
    welfare = nxt["principal", "info", "welfare"].sum().item()
    assert rewards == pytest.approx(welfare, abs=1e-5)  # transfers cancel
    assert rollout["state"].shape == (6, 3)
