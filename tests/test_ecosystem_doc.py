"""docs/ecosystem.md stays true: every recipe on it runs, its table matches the integration tests, and the
install and cluster commands are the ones CI and this test run."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.extras import require

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "ecosystem.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", PAGE, flags=re.S)
BASH_BLOCKS = re.findall(r"```bash\n(.*?)```", PAGE, flags=re.S)
NEEDS = {"ray": "rllib", "benchmarl": "benchmarl", "stable_baselines3": "sb3"}


def _run(args, timeout=300, extra_env=None, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **(extra_env or {}))
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_recipe_runs(index):
    block = PYTHON_BLOCKS[index]
    for module, extra in NEEDS.items():
        if re.search(rf"\b{module}\b|integrations[ .](rllib|benchmarl|sb3)", block) and module in block:
            require(module, extra)
    out = _run([sys.executable, "-c", block])
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]


def test_the_page_has_every_recipe_and_the_install_commands_are_cis():
    assert len(PYTHON_BLOCKS) >= 7
    ci = (ROOT / ".ci" / "run").read_text()
    install = BASH_BLOCKS[0].strip().splitlines()
    assert install[0] in ci  # the README/CI test command's install part
    assert install[1] in ci  # BenchMARL without its dependencies
    assert "not run in CI" not in PAGE


def test_ci_table_is_generated_from_the_test_cases():
    out = _run([sys.executable, "docs/_scripts/gen_ecosystem_table.py", "--check"])
    assert out.returncode == 0, out.stdout + out.stderr


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rllib_example_runs_on_a_ray_cluster_started_by_ray_start():
    require("ray", "rllib")
    head_cmd, example_cmd = [line for line in BASH_BLOCKS[1].strip().splitlines() if line]
    port = _free_port()
    head = head_cmd.replace("6379", str(port)).split() + ["--block", "--include-dashboard=false"]
    temp = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths must stay under 108 bytes
    head += ["--temp-dir", temp, "--disable-usage-stats"]
    no_token = dict(os.environ, RAY_AUTH_MODE="disabled")  # one machine, loopback only (see the page)
    ray = subprocess.Popen(
        head, cwd=ROOT, env=no_token, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait for the head's GCS port
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert ray.poll() is None, ray.stdout.read().decode()[-3000:]
            time.sleep(1)
        example = example_cmd.replace("6379", str(port)).split()
        out = _run([sys.executable, *example[1:]], timeout=400, extra_env={"RAY_AUTH_MODE": "disabled"})
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
        rows = [line for line in out.stdout.splitlines() if line.startswith('{"iteration"')]
        assert len(rows) == 1 and '"principal_0"' in rows[0]
    finally:
        _stop(ray)  # only the head this test started (its own process group)
        shutil.rmtree(temp, ignore_errors=True)


def _stop(process):
    for sig, wait in ((signal.SIGTERM, 60), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def test_sb3_and_benchmarl_examples_run(tmp_path):
    require("stable_baselines3", "sb3")
    require("benchmarl", "benchmarl")
    sb3 = _run(
        [sys.executable, "examples/sb3_supersuit_ppo.py", "--env-id", "contract_envs/prisoners_dilemma-v1",
         "--num-envs", "1", "--total-timesteps", "256", "--n-steps", "64", "--batch-size", "64"]
    )  # fmt: skip
    assert sb3.returncode == 0 and '"timesteps": 256' in sb3.stdout, sb3.stderr[-3000:]
    bench = _run(
        [sys.executable, "examples/benchmarl_mappo.py", "--task", "PRISONERS_DILEMMA", "--iterations", "1",
         "--frames-per-batch", "50", "--n-envs", "1", "--save-folder", str(tmp_path)]
    )  # fmt: skip
    assert bench.returncode == 0 and '"iterations": 1' in bench.stdout, bench.stderr[-3000:]
