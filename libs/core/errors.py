"""One error tree: every expected failure has a stable ``code`` and the HTTP status it maps to."""

from __future__ import annotations

from typing import Any, ClassVar


class PlanwrightError(Exception):
    """Base of every expected error. The API turns it into ``{"error": {"code", "message", ...}}``."""

    code: ClassVar[str] = "internal_error"
    status_code: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(PlanwrightError):
    code = "not_found"
    status_code = 404


class InvalidTransition(PlanwrightError):
    code = "invalid_transition"
    status_code = 409


class Conflict(PlanwrightError):
    code = "conflict"
    status_code = 409


class Unauthorized(PlanwrightError):
    """No credentials, or a key that is unknown or revoked."""

    code = "unauthorized"
    status_code = 401


class Forbidden(PlanwrightError):
    """A known key without the scope the route needs."""

    code = "forbidden"
    status_code = 403


class ConfigError(PlanwrightError):
    """An unusable configuration; processes refuse to start with it."""

    code = "config_error"
    status_code = 500


class UnknownTool(PlanwrightError):
    code = "unknown_tool"
    status_code = 422


class InvalidArtifactName(PlanwrightError):
    code = "invalid_artifact_name"
    status_code = 422


class PlanInvalid(PlanwrightError):
    """A plan that must not run: carries every reason found, not just the first."""

    code = "plan_invalid"
    status_code = 422

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons), reasons=reasons)
        self.reasons = reasons


class LLMError(PlanwrightError):
    """The model could not be reached or refused the request (after the provider SDK's own retries)."""

    code = "llm_error"
    status_code = 502

    @property
    def retryable(self) -> bool:
        """Worth another try later: rate limited (429), server trouble (5xx) or no HTTP answer at all."""
        status = self.details.get("status")
        return status is None or status == 429 or status >= 500


class TokenBudgetExceeded(PlanwrightError):
    """The job's token budget (the policy's job.max_tokens) is spent."""

    code = "token_budget_exceeded"
    status_code = 409


class CostBudgetExceeded(PlanwrightError):
    """A model call refused before it was made: its estimated cost is more than the money left (the
    policy's job.max_cost_usd, budget.daily_cost_usd), or its model has no price to budget with."""

    code = "cost_budget_exceeded"
    status_code = 409


class InvalidRange(PlanwrightError):
    """A date range that cannot be answered (GET /usage): backwards, or longer than allowed."""

    code = "invalid_range"
    status_code = 422


class AnswerInvalid(PlanwrightError):
    """An answer to an ask_human task, or a person's edited args, that do not fit: every problem listed."""

    code = "answer_invalid"
    status_code = 422

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), problems=problems)
        self.problems = problems


class PolicyRefused(PlanwrightError):
    """A person's edited args that the policy does not allow; ``rule`` names the entry that refused."""

    code = "policy_refused"
    status_code = 422

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message, rule=rule)
        self.rule = rule


class ToolError(Exception):
    """A tool call failed for good: the task fails with this message, no retry."""


class RetryableToolError(ToolError):
    """A transient tool failure (timeout, network, 5xx): the task is retried with backoff."""
