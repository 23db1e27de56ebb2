"""contract-envs: multi-agent environments where a principal steers agents with contracts."""

from contract_envs.registration import env_ids, make, register_all

__version__ = "0.1.0"

register_all()

__all__ = ["__version__", "env_ids", "make"]
