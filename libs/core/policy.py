"""Policy evaluation: pure, from the parsed ``config/policy.yaml`` (format: docs/policy.md).

Tool names in the file may be shell-style patterns (``mcp.github.*``, ``mcp.*``, ``*``). A decision's
rule names the entry that matched; for per-tool limits a tool's own entry wins over any pattern.
``PolicyStore`` re-reads the file when it changes, so edits take effect without a restart; an
invalid edit is logged and the last valid policy stays in force.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from planwright.core import netguard
from planwright.core.errors import ConfigError

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolLimits(_Strict):
    timeout_s: float | None = Field(None, gt=0, description="Caps the tool's own timeout.")
    max_response_bytes: int | None = Field(None, gt=0, description="Caps what http_fetch reads.")
    allowed_domains: list[str] | None = Field(
        None, description="http_fetch hosts; '*.example.com' for subdomains."
    )
    max_calls_per_job: int | None = Field(None, ge=1, description="Tasks of one job that may use the tool.")
    allow_private_networks: list[netguard.IPNetwork] = Field(
        [], description="http_fetch: non-global networks it may still reach (CIDRs); off by default."
    )
    allowed_ports: list[int] = Field([], description="http_fetch: ports besides 80 and 443.")

    @field_validator("allow_private_networks", mode="before")
    @classmethod
    def _cidrs(cls, value: object) -> object:
        if not isinstance(value, list):
            return value  # pydantic reports the wrong type
        if not all(isinstance(v, str) for v in value):
            raise ValueError("write each network as a string in CIDR form, such as 10.1.0.0/16")
        return list(netguard.parse_networks(value))

    @field_validator("allowed_ports")
    @classmethod
    def _ports(cls, ports: list[int]) -> list[int]:
        wrong = [p for p in ports if not 1 <= p <= 65535]
        if wrong:
            raise ValueError(f"{wrong[0]} is not a port (1 to 65535)")
        return ports

    def net_policy(self, *, with_domains: bool) -> netguard.NetPolicy:
        """The network guard's settings from these limits (``allowed_domains`` only when enforced)."""
        return netguard.NetPolicy(
            private_networks=tuple(self.allow_private_networks),
            extra_ports=frozenset(self.allowed_ports),
            allowed_domains=tuple(self.allowed_domains)
            if with_domains and self.allowed_domains is not None
            else None,
        )


class JobLimits(_Strict):
    max_tasks: int | None = Field(None, ge=1)
    max_reworks: int | None = Field(None, ge=0, description="Caps CRITIC_MAX_REWORKS.")
    max_runtime_s: float | None = Field(None, gt=0, description="A running job older than this fails.")
    max_tokens: int | None = Field(
        None, ge=1, description="Model tokens (input + output) one job may use; past it the job fails."
    )
    max_cost_usd: float | None = Field(
        None, gt=0, description="US dollars one job's model calls may cost; past it the job fails."
    )


class TenantBudget(_Strict):
    daily_cost_usd: float = Field(gt=0, description="US dollars the tenant's model calls may cost a UTC day.")


class Budget(_Strict):
    daily_cost_usd: float | None = Field(
        None, gt=0, description="US dollars a UTC day's model calls may cost, per tenant not listed below."
    )
    tenants: dict[str, TenantBudget] = Field({}, description="A tenant's own daily budget, in its place.")


class EnvironmentPolicy(_Strict):
    allowed_tools: list[str] = []
    denied_tools: dict[str, str] = {}  # tool -> reason shown to the user
    require_approval: list[str] = []  # tools whose tasks wait for a person to approve them
    approval_timeout_s: float = Field(3600.0, gt=0, description="An unanswered approval fails the task.")
    input_timeout_s: float = Field(
        3600.0, gt=0, description="An unanswered ask_human question fails the task."
    )
    tools: dict[str, ToolLimits] = {}
    job: JobLimits = JobLimits()
    budget: Budget = Budget()


class PolicyFile(_Strict):
    version: Literal[1] = 1
    environments: dict[str, EnvironmentPolicy]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    rule: str  # the part of the policy that decided, e.g. "environments.prod.denied_tools.http_fetch"
    needs_approval: bool = False  # allowed once a person approves it


@dataclass(frozen=True)
class PlanCheck:
    """A whole plan against the policy: a decision per task, and what is wrong with the plan itself."""

    decisions: dict[str, Decision]
    problems: list[Decision]

    @property
    def allowed(self) -> bool:
        return not self.problems and all(d.allowed for d in self.decisions.values())

    @property
    def reasons(self) -> list[str]:
        """Why the plan may not run: the plan's problems, then each refused task's ("task 'k': ...")."""
        reasons = [p.reason for p in self.problems]
        return reasons + [f"task '{k}': {d.reason}" for k, d in self.decisions.items() if not d.allowed]


_NO_LIMITS = ToolLimits()
_WILDCARDS = frozenset("*?[")


def is_pattern(entry: str) -> bool:
    """Whether a tool entry of the file is a shell-style pattern rather than a name."""
    return not _WILDCARDS.isdisjoint(entry)


def matching(tool: str, entries: Iterable[str]) -> str | None:
    """The entry that names ``tool``: the tool itself, else the first pattern (in file order) it
    matches; None when none does."""
    entries = list(entries)
    if tool in entries:
        return tool
    return next((e for e in entries if is_pattern(e) and fnmatchcase(tool, e)), None)


def _limits_entry(env: EnvironmentPolicy, tool: str) -> str | None:
    """The ``tools:`` key whose limits apply to ``tool``: its own, else the longest matching pattern."""
    if tool in env.tools:
        return tool
    found = [e for e in env.tools if is_pattern(e) and fnmatchcase(tool, e)]
    return max(found, key=len) if found else None


def netguard_decision(mode: str, tool: str, refused: netguard.Refused) -> Decision:
    """A block for a URL the network guard refuses; the rule names the key that could allow it."""
    return Decision(False, refused.reason, f"environments.{mode}.tools.{tool}.{refused.setting or 'url'}")


class PolicyEngine:
    def __init__(self, policy: PolicyFile) -> None:
        self.policy = policy
        self._net: dict[tuple[str, str, bool], netguard.NetPolicy] = {}

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
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"policy file {path} is invalid: {problems}") from exc

    def environment(self, mode: str) -> EnvironmentPolicy | None:
        return self.policy.environments.get(mode)

    def max_tasks(self, mode: str) -> int | None:
        env = self.environment(mode)
        return env.job.max_tasks if env else None

    def max_tokens(self, mode: str) -> int | None:
        env = self.environment(mode)
        return env.job.max_tokens if env else None

    def max_cost_usd(self, mode: str) -> float | None:
        env = self.environment(mode)
        return env.job.max_cost_usd if env else None

    def daily_cost_usd(self, mode: str, tenant: str) -> tuple[float, str] | None:
        """The tenant's daily budget in US dollars and the rule that sets it (``daily_budget``)."""
        env = self.environment(mode)
        return daily_budget(env, mode, tenant) if env else None

    def limits(self, mode: str, tool: str) -> ToolLimits:
        """The limits for ``tool`` in ``mode``: its own entry under ``tools:``, else the longest
        pattern that matches it (entries are not merged)."""
        env = self.environment(mode)
        entry = _limits_entry(env, tool) if env else None
        return env.tools[entry] if env and entry is not None else _NO_LIMITS

    def _limits_rule(self, mode: str, tool: str) -> str:
        """Where ``tool``'s limits come from, for a rule: ``environments.<mode>.tools.<entry>``."""
        env = self.environment(mode)
        entry = (_limits_entry(env, tool) if env else None) or tool
        return f"environments.{mode}.tools.{entry}"

    def net_policy(self, mode: str, tool: str, *, with_domains: bool) -> netguard.NetPolicy:
        """Where ``tool`` may connect in ``mode`` (cached: the engine is rebuilt when the file changes)."""
        key = (mode, tool, with_domains)
        found = self._net.get(key)
        if found is None:
            found = self._net[key] = self.limits(mode, tool).net_policy(with_domains=with_domains)
        return found

    def decide(self, mode: str, tool: str, args: Mapping[str, Any] | None = None) -> Decision:
        env = self.environment(mode)
        where = f"environments.{mode}"
        if env is None:
            return Decision(False, f"POLICY_MODE={mode} has no section in the policy file", where)
        denied = matching(tool, env.denied_tools)
        if denied is not None:
            reason = f"tool '{tool}' is denied in {mode}: {env.denied_tools[denied]}"
            return Decision(False, reason, f"{where}.denied_tools.{denied}")
        allowed = matching(tool, env.allowed_tools)
        if allowed is None:
            return Decision(
                False, f"tool '{tool}' is not in the allowed tools for {mode}", f"{where}.allowed_tools"
            )
        domains = self.limits(mode, tool).allowed_domains
        url = (args or {}).get("url")
        if domains is not None and isinstance(url, str):
            host = urlsplit(url).hostname or ""
            if not netguard.host_allowed(host, domains):
                rule = f"{self._limits_rule(mode, tool)}.allowed_domains"
                return Decision(False, f"{host or url!r} is not an allowed domain for {tool} in {mode}", rule)
        if isinstance(url, str):
            try:
                netguard.check_url(url, self.limits(mode, tool).net_policy(with_domains=False))
            except netguard.Refused as exc:
                return netguard_decision(mode, tool, exc)
        approval = matching(tool, env.require_approval)
        if approval is not None:
            reason = f"tool '{tool}' needs a person's approval in {mode}"
            return Decision(
                True, reason, _entry_rule(f"{where}.require_approval", tool, approval), needs_approval=True
            )
        rule = _entry_rule(f"{where}.allowed_tools", tool, allowed)
        return Decision(True, f"tool '{tool}' is allowed in {mode}", rule)

    def check_plan(self, mode: str, tasks: Sequence[tuple[str, str, Mapping[str, Any]]]) -> PlanCheck:
        """``tasks`` as (key, tool, args). Applies the tool rules and the job limits before anything runs."""
        decisions = {key: self.decide(mode, tool, args) for key, tool, args in tasks}
        problems: list[Decision] = []
        env = self.environment(mode)
        if env is not None:
            where = f"environments.{mode}"
            limit = env.job.max_tasks
            if limit is not None and len(tasks) > limit:
                reason = f"the plan has {len(tasks)} tasks; the policy allows at most {limit} in {mode}"
                problems.append(Decision(False, reason, f"{where}.job.max_tasks"))
            for tool, used in Counter(tool for _, tool, _ in tasks).items():
                most = self.limits(mode, tool).max_calls_per_job
                if most is not None and used > most:
                    reason = f"the plan calls {tool} {used} times; the policy allows {most} per job in {mode}"
                    rule = f"{self._limits_rule(mode, tool)}.max_calls_per_job"
                    problems.append(Decision(False, reason, rule))
        return PlanCheck(decisions, problems)


def _entry_rule(key: str, tool: str, entry: str) -> str:
    """The rule for a list entry: the list's key for the tool's own name, ``<key>.<pattern>`` for a
    pattern (``environments.dev.allowed_tools.*``)."""
    return key if entry == tool else f"{key}.{entry}"


def daily_budget(env: EnvironmentPolicy, mode: str, tenant: str) -> tuple[float, str] | None:
    """``tenant``'s daily budget in US dollars in ``env`` (the policy of ``mode``) and the rule that
    sets it: its own entry under ``budget.tenants``, else ``budget.daily_cost_usd``; None when neither
    is set."""
    where = f"environments.{mode}.budget"
    own = env.budget.tenants.get(tenant)
    if own is not None:
        return own.daily_cost_usd, f"{where}.tenants.{tenant}.daily_cost_usd"
    if env.budget.daily_cost_usd is not None:
        return env.budget.daily_cost_usd, f"{where}.daily_cost_usd"
    return None


class PolicyStore:
    """The policy in force: re-read whenever the file changes, so edits need no restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._stat()
        self._engine = PolicyEngine.load(path)  # an invalid file at start stops the process

    @classmethod
    def if_present(cls, path: Path) -> PolicyStore | None:
        """The store, or None when there is no file (an invalid one still stops the process)."""
        return cls(path) if path.exists() else None

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    @property
    def engine(self) -> PolicyEngine:
        stamp = self._stat()
        if stamp is not None and stamp != self._stamp:
            self._stamp = stamp
            try:
                self._engine = PolicyEngine.load(self.path)
                log.info("policy: reloaded %s", self.path)
            except ConfigError as exc:
                log.error("policy: keeping the previous policy; %s", exc.message)
        return self._engine
