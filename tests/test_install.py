"""The extras keep the CPU torch: nothing installed pulled a CUDA build."""


def test_installed_torch_is_the_cpu_wheel_and_no_cuda_package_came_with_the_extras():
    from importlib import metadata

    import torch

    assert torch.__version__.endswith("+cpu"), torch.__version__
    cuda = sorted(
        d.metadata["Name"] for d in metadata.distributions() if d.metadata["Name"].lower().startswith("nvidia")
    )
    assert cuda == []


def test_import_contract_envs_and_its_wrappers_needs_no_learning_library():
    import subprocess
    import sys

    code = (
        "import sys, contract_envs, contract_envs.wrappers, contract_envs.integrations\n"
        "heavy = ('ray', 'torch', 'torchrl', 'benchmarl', 'stable_baselines3', 'supersuit')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
