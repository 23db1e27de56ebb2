"""BenchMARL: every game is a task (full and agents-only) that BenchMARL's stock MAPPO/IPPO run."""

import warnings

import pytest

from contract_envs.registry import env_ids
from tests.ecosystem_cases import BENCHMARL_RUNS
from tests.extras import require

require("benchmarl", "benchmarl")  # .ci/run installs it

import torch  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from contract_envs.integrations import benchmarl as cb  # first: it lets BenchMARL import on TorchRL >= 0.12

    # isort: split
    from benchmarl.algorithms import IppoConfig, MappoConfig
    from benchmarl.experiment import Experiment, ExperimentConfig
    from benchmarl.models import MlpConfig

pytestmark = pytest.mark.filterwarnings("ignore")  # BenchMARL/TorchRL deprecation chatter

ALGORITHMS = {"mappo": MappoConfig, "ippo": IppoConfig}


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 cores shared by 2 test workers
    yield
    torch.set_num_threads(threads)


def _experiment(task_name, algorithm, frames, kwargs, folder):
    task = getattr(cb.ContractEnvsTask, task_name).get_from_yaml()
    task.config["kwargs"] = dict(kwargs)
    if "horizon" in kwargs:
        stages = 1 if task.config["agents_only"] else task.config["max_steps"] // _rounds(task.config["env_id"])
        task.config["max_steps"] = kwargs["horizon"] * stages
    config = ExperimentConfig.get_from_yaml()
    config.sampling_device = config.train_device = config.buffer_device = "cpu"
    config.max_n_iters = 1
    config.on_policy_collected_frames_per_batch = frames
    config.on_policy_n_envs_per_worker = 2
    config.on_policy_n_minibatch_iters = 1
    config.on_policy_minibatch_size = frames // 2
    config.evaluation = False
    config.loggers = []
    config.create_json = False
    config.checkpoint_at_end = False
    config.save_folder = str(folder)
    mlp = MlpConfig.get_from_yaml()
    return Experiment(
        task=task,
        algorithm_config=ALGORITHMS[algorithm].get_from_yaml(),
        model_config=mlp,
        critic_model_config=mlp,
        seed=0,
        config=config,
    )


def _rounds(env_id):
    return cb.default_config(env_id, agents_only=True)["max_steps"]


@pytest.mark.parametrize(
    "task_name,algorithm,frames,kwargs", BENCHMARL_RUNS, ids=[f"{r[0].lower()}-{r[1]}" for r in BENCHMARL_RUNS]
)
def test_benchmarl_runs_one_iteration(task_name, algorithm, frames, kwargs, tmp_path):
    experiment = _experiment(task_name, algorithm, frames, kwargs, tmp_path)
    before = [p.detach().clone() for p in experiment.policy.parameters()]
    experiment.run()
    assert experiment.n_iters_performed == 1 and experiment.total_frames == frames
    after = list(experiment.policy.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))  # the policies were updated
    groups = set(experiment.group_map)
    env_id = experiment.task.config["env_id"]
    if experiment.task.config["agents_only"]:
        assert "principal" not in groups
    elif "tree" not in env_id:
        assert groups == {"principal", "agent"}
        assert experiment.continuous_actions is True  # the principal's contract
        assert experiment.action_spec["principal", "action"].shape[-1] > 0


def test_every_game_has_both_tasks_and_yaml_defaults_that_match_the_games():
    names = {t.name for t in cb.ContractEnvsTask}
    for env_id in env_ids():
        for agents_only in (False, True):
            name = cb.task_name(env_id, agents_only)
            assert name in names
            task = getattr(cb.ContractEnvsTask, name).get_from_yaml()
            assert task.config == cb.default_config(env_id, agents_only), f"regenerate {cb.yaml_path(name)}"


def test_max_steps_bounds_every_episode():
    # a random rollout of each full game ends within max_steps Parallel steps, and horizon games exactly at it
    import numpy as np

    import contract_envs

    for env_id in env_ids():
        config = cb.default_config(env_id)
        if config["max_steps"] > 500:
            continue
        env = contract_envs.make("parallel", env_id)
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        steps = 0
        while env.agents:
            actions = {}
            for p in env.agents:
                space = env.action_space(p)
                space.seed(int(rng.integers(2**31)))
                actions[p] = space.sample()
            env.step(actions)
            steps += 1
        assert steps <= config["max_steps"]
        if env.machine.game.horizon is not None and not env.machine.game.name == "escape_room":
            assert steps == config["max_steps"]
