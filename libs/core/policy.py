"""Policy evaluation: pure, from the parsed ``config/policy.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from planwright.core.errors import ConfigError


class EnvironmentPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allowed_tools: list[str] = []
    denied_tools: dict[str, str] = {}  # tool -> reason shown to the user


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    environments: dict[str, EnvironmentPolicy]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    rule: str  # the part of the policy that decided, e.g. "environments.prod.denied_tools.http_fetch"


class PolicyEngine:
    def __init__(self, policy: PolicyFile) -> None:
        self.policy = policy

    @classmethod
    def load(cls, path: Path) -> PolicyEngine:
        """Parse and validate the file; a ConfigError names the key that is wrong."""
        try:
            raw = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read policy file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"policy file {path} is not valid YAML: {exc}") from exc
        try:
            return cls(PolicyFile.model_validate(raw))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"policy file {path} is invalid: {problems}") from exc

    def decide(self, mode: str, tool: str) -> Decision:
        env = self.policy.environments.get(mode)
        where = f"environments.{mode}"
        if env is None:
            return Decision(False, f"POLICY_MODE={mode} has no section in the policy file", where)
        if tool in env.denied_tools:
            reason = f"tool '{tool}' is denied in {mode}: {env.denied_tools[tool]}"
            return Decision(False, reason, f"{where}.denied_tools.{tool}")
        if "*" in env.allowed_tools or tool in env.allowed_tools:
            rule = f"{where}.allowed_tools" + ("" if tool in env.allowed_tools else ".*")
            return Decision(True, f"tool '{tool}' is allowed in {mode}", rule)
        return Decision(
            False, f"tool '{tool}' is not in the allowed tools for {mode}", f"{where}.allowed_tools"
        )
