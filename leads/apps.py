from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from accounts.models import Workspace


class LeadsConfig(AppConfig):
    name = "leads"

    def ready(self) -> None:
        # Models and the apps they import are loadable only once the registry is ready.
        from credits.counting import register_scope_counter
        from credits.models import Tool
        from leads.selectors import cohort_enrichment_counts, list_enrichment_counts

        def count_list(*, workspace: "Workspace", params: dict) -> tuple[int, int]:
            return list_enrichment_counts(
                workspace=workspace,
                list_id=params["list_id"],
                enrichment_type=params["enrichment_type"],
                output=params.get("output"),
            )

        def count_cohort(*, workspace: "Workspace", params: dict) -> tuple[int, int]:
            return cohort_enrichment_counts(
                workspace=workspace,
                task_id=params["task_id"],
                entity_ids=params["entity_ids"],
                enrichment_type=params["enrichment_type"],
                output=params.get("output"),
            )

        # Estimates price lists and cohorts, which credits (below leads) cannot read itself.
        register_scope_counter(Tool.ENRICH_LIST, count_list)
        register_scope_counter(Tool.ENRICH_TASK, count_cohort)
