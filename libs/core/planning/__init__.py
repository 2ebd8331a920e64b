"""Goal -> validated plan: the rule-based planner and the checks every plan must pass."""

from planwright.core.planning.rules import RuleBasedPlanner, split_steps
from planwright.core.planning.validation import ToolCatalog, find_cycles, validate_plan

__all__ = ["RuleBasedPlanner", "ToolCatalog", "find_cycles", "split_steps", "validate_plan"]
