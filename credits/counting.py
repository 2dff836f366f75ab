"""How many rows an estimate prices.

`enrich_list` and `enrich_task` rows are a lead list / a search cohort, owned by the leads app,
which sits above credits: leads registers a counter for each (`LeadsConfig.ready`) instead of
credits importing it. A counter returns `(total, already_enriched)` for the canonical params
of its tool and raises `NotFound` for an unknown or other workspace's list / cohort.
`run_smart_agent` rows are counted by the agents app, which also refuses there an agent type
that needs a language model when none is configured."""

from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from accounts.models import Workspace
from credits.models import Tool

# A list's or a cohort's rows are counted by the leads app; a person or a company is one row.
_COUNTED_TOOLS = (Tool.ENRICH_LIST, Tool.ENRICH_TASK, Tool.RUN_SMART_AGENT)


class ScopeCounter(Protocol):
    def __call__(self, *, workspace: Workspace, params: dict) -> tuple[int, int]: ...


_scope_counters: dict[str, ScopeCounter] = {}


def register_scope_counter(tool: str, counter: ScopeCounter) -> None:
    """Makes `counter` the one that counts `tool`'s rows (a repeat replaces it)."""
    _scope_counters[tool] = counter


def scope_counts(*, workspace: Workspace, tool: str, params: dict) -> tuple[int, int]:
    """`(total rows, rows already holding the data)` for canonical `params` of `tool`."""
    counter = _scope_counters.get(tool)
    if counter is not None:
        return counter(workspace=workspace, params=params)
    if tool in _COUNTED_TOOLS:
        # Pricing these as one row would undercharge a whole list; refuse instead.
        raise ImproperlyConfigured(f"No scope counter is registered for {tool}.")
    # A single person or company: one row, never "already enriched" from a quote's view
    # (the enrichment app's result cache makes a repeat free at run time instead).
    return 1, 0
