"""The Orchestrator: the only writer of job and task state. It runs inside the API process."""

from planwright.services.api.orchestrator.service import Orchestrator

__all__ = ["Orchestrator"]
