"""What each library is asked to do with each game in CI: the integration tests are parametrized by these lists,
and the table of docs/ecosystem.md is generated from them (``python docs/_scripts/gen_ecosystem_table.py``)."""

from contract_envs.registry import GYMNASIUM_ENVIRONMENTS, NAMESPACE, env_ids, spec

# RLlib: one PPO iteration of the full game (turn-based, one policy per role): (env_id, game arguments)
RLLIB_CASES = [(env_id, {}) for env_id in env_ids()]

# BenchMARL: (task, algorithm, Parallel steps in the iteration, game arguments); the four runs of the full Coin Game
# and Prisoner's Dilemma, then one IPPO iteration of every other task (full and agents-only)
BENCHMARL_RUNS = [
    ("COIN_GAME", "mappo", 60, {"horizon": 10}),
    ("COIN_GAME", "ippo", 60, {"horizon": 10}),
    ("PRISONERS_DILEMMA", "mappo", 60, {}),
    ("PRISONERS_DILEMMA", "ippo", 60, {}),
] + [
    (spec(env_id).name.upper() + suffix, "ippo", 20, {"horizon": 5} if "bandit" in env_id else {})
    for env_id in env_ids()
    for suffix in ("", "_AGENTS_ONLY")
    if spec(env_id).name.upper() + suffix not in ("COIN_GAME", "PRISONERS_DILEMMA")
]

# TorchRL: check_env_specs of (env_id, agents_only, observation/action layout)
TORCHRL_CASES = [
    (env_id, agents_only, layout) for env_id in env_ids() for agents_only in (False, True) for layout in ("raw", "flat")
]

# Stable-Baselines3 + SuperSuit: PPO on the agents-only view, >= SB3_STEPS steps: (env_id, game arguments)
SB3_CASES = [(env_id, {"horizon": 20} if "bandit" in env_id else {}) for env_id in env_ids()]
SB3_STEPS = 2048

# Gymnasium: check_env and one episode of every registered Gymnasium id
GYMNASIUM_IDS = [f"{NAMESPACE}/{name}" for name in GYMNASIUM_ENVIRONMENTS]
