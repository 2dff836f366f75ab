"""How many rows an estimate prices: the one place the credits app asks the leads app.

`enrich_list` and `enrich_task` rows come from a lead list / a search cohort owned by the
leads app. Both selectors return `(total, already_enriched)` for the given enrichment type and raise
`NotFound` for an unknown or other workspace's list / cohort."""

from accounts.models import Workspace
from leads.selectors import cohort_enrichment_counts, list_enrichment_counts

ENRICH_PERSON = "enrich_person"
ENRICH_COMPANY = "enrich_company"
ENRICH_LIST = "enrich_list"
ENRICH_TASK = "enrich_task"
TOOLS: tuple[str, ...] = (ENRICH_LIST, ENRICH_PERSON, ENRICH_COMPANY, ENRICH_TASK)
SINGLE_ROW_TOOLS = (ENRICH_PERSON, ENRICH_COMPANY)


def scope_counts(*, workspace: Workspace, tool: str, params: dict) -> tuple[int, int]:
    """`(total rows, rows already holding the data)` for canonical `params` of `tool`."""
    if tool == ENRICH_LIST:
        return list_enrichment_counts(
            workspace=workspace,
            list_id=params["list_id"],
            enrichment_type=params["enrichment_type"],
        )
    if tool == ENRICH_TASK:
        return cohort_enrichment_counts(
            workspace=workspace,
            task_id=params["task_id"],
            entity_ids=params["entity_ids"],
            enrichment_type=params["enrichment_type"],
        )
    # A single person or company: one row, never "already enriched" from a quote's view
    # (the enrichment app's result cache makes a repeat free at run time instead).
    return 1, 0
