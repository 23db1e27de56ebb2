"""The extras keep the CPU torch: nothing installed pulled a CUDA build."""


def test_installed_torch_is_the_cpu_wheel_and_no_cuda_package_came_with_the_extras():
    from importlib import metadata

    import torch

    assert torch.__version__.endswith("+cpu"), torch.__version__
    cuda = sorted(
        d.metadata["Name"] for d in metadata.distributions() if d.metadata["Name"].lower().startswith("nvidia")
    )
    assert cuda == []
