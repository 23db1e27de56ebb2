"""Dispatch a reproduction grid (method x seed runs) to Ray: a local instance by default, a cluster with ``address``.

Every ``benchmarks/reproduce_*.py`` script hands its runs here. Each run is one Ray task with one CPU
(the runs are single-threaded training processes), so a local instance started with ``jobs`` CPUs runs
at most ``jobs`` at a time, and a cluster runs as many as it has CPUs. Results come back in the order
of ``tasks`` and are those of a sequential run of the same tasks: a run's randomness comes from its
own seed only, never from where or when it ran. ``jobs=1`` (or a single task) without an address runs the
grid in this process, in order, without Ray.

Cluster use: start a head (``ray start --head --port=6379``) and workers (``ray start
--address=<head>:6379``), with this repository at the same path on every node (the runs read and write
files relative to it, e.g. a shared filesystem), then pass ``--address <head>:6379`` to a reproduce
script. Each task runs in the directory the script was started from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def _in_dir(fn: Callable[[Any], T], task: Any, cwd: str) -> T:
    os.chdir(cwd)  # a Ray worker starts elsewhere; the runs use paths relative to the script's directory
    return fn(task)


def _absolute_pythonpath() -> str:
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(os.path.abspath(p) for p in paths)


def run_grid(fn: Callable[[Any], T], tasks: Iterable[Any], jobs: int = 2, address: str | None = None) -> list[T]:
    """``[fn(task) for task in tasks]``, run as Ray tasks (see the module docstring).

    Args:
        fn: one run; picklable by cloudpickle (a closure or lambda of the calling script is fine).
        tasks: the grid, e.g. ``[(method, seed), ...]``.
        jobs: runs at a time on a local instance (its CPUs); ignored on a cluster.
        address: a Ray cluster (``host:port`` or ``"auto"``); ``None``: a local instance.
    """
    tasks = list(tasks)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    if address is None and (jobs == 1 or len(tasks) <= 1):
        return [fn(task) for task in tasks]
    try:
        import ray
    except ImportError as err:
        raise ImportError(
            "running a grid on more than one job needs Ray: pip install 'contract-envs[rllib]' (or ray); "
            "--jobs 1 runs it in this process"
        ) from err
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address,
            num_cpus=jobs if address is None else None,
            include_dashboard=False,
            log_to_driver=True,
            runtime_env={"env_vars": {"PYTHONPATH": _absolute_pythonpath()}},
        )
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_in_dir)
        cwd = os.getcwd()
        return ray.get([remote.remote(fn, task, cwd) for task in tasks])
    finally:
        if started:
            ray.shutdown()


__all__ = ["run_grid"]
