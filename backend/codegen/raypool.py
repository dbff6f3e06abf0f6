"""pass@k execution fanned out over Ray workers (a codegen run's ``execute_on=ray``): the same sandbox, one task
per program."""
from __future__ import annotations

from backend.raycluster import connect_ray


class RaySandboxPool:
    """pass@k execution fanned out over Ray workers: the same sandbox, one task per program."""

    def __init__(self, limits, address: str | None = None):
        self.ray = connect_ray(address)
        self.limits, self.task = limits, self.ray.remote(num_cpus=1)(_sandbox_task)

    def submit(self, job):
        return self.task.remote(job, self.limits).future()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def _sandbox_task(job, limits):
    from backend.codegen.sandbox import run_job
    return run_job(job, limits)  # judged on the Ray worker, outside its sandbox
