"""The game shape's promises that the generic battery does not state one by one: the cases the
game-shape issue measured (messages that name the argument, values accepted silently, lazy
submodules, role views over every game, finished episodes in Gymnasium views)."""

from __future__ import annotations

import pickle
import subprocess
import sys

import gymnasium
import numpy as np
import pytest

import contract_envs
import contract_envs.vector
from contract_envs.adapters.views import AgentsOnlyParallelEnv, PrincipalGymEnv
from contract_envs.games.principal_agent_mdp import PrincipalAgentMDPSpec, hidden_action_e8

MDP = "contract_envs/principal_agent_mdp-v1"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: contract_envs.make("parallel", MDP).reset(seed=2**64),
            r"seed must be None or an int in \[0, 2\*\*64\)",
        ),
        (lambda: contract_envs.make("parallel", MDP, instance_seed=-1), r"instance_seed must be an integer in \[0"),
        (lambda: contract_envs.make("parallel", MDP, depth=2.5), r"depth must be an integer in \[1, 24\]"),
        (lambda: contract_envs.vector.make(MDP, 2.5), r"num_envs must be an integer in \[1, inf\)"),
        (
            lambda: contract_envs.make("parallel", "contract_envs/escape_room-v1", door_reward=float("nan")),
            "door_reward",
        ),
        (lambda: contract_envs.make("parallel", "contract_envs/escape_room-v1", move_cost=float("inf")), "move_cost"),
        (lambda: contract_envs.make("parallel", "contract_envs/escape_room-v1", n_agents=2.7), "n_agents"),
        (lambda: contract_envs.make("parallel", "contract_envs/cleanup-v1", cleaning_penalty=float("nan")), "cleaning"),
        (lambda: contract_envs.make("parallel", "contract_envs/tax_economy-v1", max_labour=2.5), "max_labour"),
    ],
)
def test_bad_arguments_the_issue_measured_are_errors_naming_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def _spec(**changes) -> dict:
    good = hidden_action_e8()
    kw = dict(
        outcome_probs=good.outcome_probs,
        agent_reward=good.agent_reward,
        principal_reward=good.principal_reward,
        transitions=good.transitions,
        terminal=good.terminal,
    )
    kw.update(changes)
    return kw


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"outcome_probs": "abc"}, "outcome_probs must be an array of finite real numbers"),
        ({"outcome_probs": hidden_action_e8().outcome_probs.astype(complex)}, "outcome_probs .*dtype complex128"),
        ({"agent_reward": [["a", "b", "c"], ["d", "e", "f"]]}, "agent_reward must be an array of finite real"),
        ({"initial_state": 0.7}, r"initial_state must be an integer in \[0, 1\]"),
        ({"gamma": float("nan")}, "gamma must be a finite real number"),
    ],
)
def test_specs_reject_complex_non_numeric_and_non_integral_values(changes, message):
    with pytest.raises(ValueError, match=message):
        PrincipalAgentMDPSpec(**_spec(**changes))


def test_import_loads_the_registry_only_and_submodules_on_first_use():
    code = (
        "import sys, contract_envs\n"
        "heavy = ('scipy', 'contract_envs.solvers', 'contract_envs.adapters', 'contract_envs.core.machines',"
        " 'contract_envs.games.coin_game')\n"
        "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
        "assert contract_envs.vector.make and contract_envs.views.PrincipalGymEnv and contract_envs.solvers.solve_spe\n"
        "assert contract_envs.contracts.ContractTerms and contract_envs.adapters.pettingzoo\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("env_id", contract_envs.env_ids())
def test_agents_only_view_works_for_every_game(env_id):
    view = AgentsOnlyParallelEnv(env_id)
    obs, infos = view.reset(seed=0)
    assert set(obs) == set(view.possible_agents) and set(infos) == set(view.possible_agents)
    rng = np.random.default_rng(0)
    for _ in range(3):
        if not view.agents:
            break
        _, rewards, *_ = view.step({a: view.action_space(a).sample() for a in view.agents})
        assert set(rewards) <= set(view.possible_agents)
    del rng


def test_principal_gym_view_refuses_steps_before_reset_and_after_the_end_through_gymnasium_make():
    env = gymnasium.make("contract_envs/ContractBanditPrincipal-v1", horizon=2)
    with pytest.raises(Exception, match="reset"):  # Gymnasium's order-enforcing wrapper: ResetNeeded
        env.step(np.zeros((1, 5), np.float32))
    raw = env.unwrapped
    with pytest.raises(RuntimeError, match=r"call reset\(\)"):
        raw.step(np.zeros((1, 5), np.float32))
    env.reset(seed=0)
    env.step(np.zeros((1, 5), np.float32))
    *_, truncated, _ = env.step(np.zeros((1, 5), np.float32))
    assert truncated
    with pytest.raises(RuntimeError, match="ended"):
        raw.step(np.zeros((1, 5), np.float32))


def test_principal_gym_view_pickles_mid_episode():
    env = PrincipalGymEnv("contract_envs/contract_bandit-v1", horizon=50)
    env.reset(seed=3)
    offers = np.random.default_rng(0).uniform(0, 1, (20, 1, 5)).astype(np.float32)
    for offer in offers[:7]:
        env.step(offer)
    twin = pickle.loads(pickle.dumps(env))
    for offer in offers[7:]:
        assert env.step(offer)[:4] == twin.step(offer)[:4]


def test_batched_api_refuses_ended_environments_without_autoreset_and_resets_some_on_request():
    vec = contract_envs.vector.make(MDP, 3, seed=0, spec=hidden_action_e8(), autoreset=False)
    vec.step({"principal_0": np.zeros((3, 1, 2))})
    vec.step({"agent_0": np.array([0, 1, 2])})  # the one-shot game ends for every environment
    with pytest.raises(RuntimeError, match=r"environments \[0, 1, 2\] have ended"):
        vec.step({"principal_0": np.zeros((3, 1, 2))})
    with pytest.raises(ValueError, match=r"env_idx must be integer indices in \[0, 2\]"):
        vec.reset(env_idx=[1.5])
    with pytest.raises(ValueError, match=r"env_idx must lie in \[0, 2\]"):
        vec.reset(env_idx=[3])
    vec.reset(env_idx=[1])
    with pytest.raises(RuntimeError, match=r"environments \[0, 2\] have ended"):
        vec.step({"principal_0": np.zeros((3, 1, 2))})
    vec.reset()
    vec.step({"principal_0": np.zeros((3, 1, 2))})
