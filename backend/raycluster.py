"""The Ray cluster this process talks to: runs of a sweep and sandboxed programs of a codegen run go there."""
from __future__ import annotations

import os

from backend.config import REPO_ROOT


def connect_ray(address: str | None):
    import ray
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        if not address:
            raise ValueError("no Ray cluster given: pass --ray-address HOST:PORT or set RAY_ADDRESS "
                             "(start one with `ray start --head`)")
        # Settings travel with each task (the driver's, passed down), so the environment only finds our code.
        ray.init(address=address, runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}}, log_to_driver=False)
    return ray
