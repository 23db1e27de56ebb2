from contract_envs.envs import principal_agent_mdp_v0
from tests.battery import run_battery


def test_battery_default_tree():
    run_battery(principal_agent_mdp_v0)
