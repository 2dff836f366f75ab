"""A large plan refreshes the item table's statistics at once, so the chunks' claims are
planned knowing the run's items exist (autovacuum's analyze may come a minute later); so does
any plan that added more items than the statistics know the table holds (a new deployment's
first runs), and a small run's result writes then probe the items by key."""

import pytest
from django.db import connection

from enrichment.models import WorkflowItem
from enrichment.services import execution
from enrichment.services.start import bulk_enrichment_start
from tests.enrichment.factories import list_quote, list_with_leads

pytestmark = pytest.mark.django_db(transaction=True)


_ITEMS = WorkflowItem._meta.db_table


def _analyze_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s",
            [_ITEMS],
        )
        return cursor.fetchone()[0]


def _planned_run(workspace, leads: int) -> str:
    lead_list = list_with_leads(workspace, leads)
    return bulk_enrichment_start(
        workspace=workspace, list_id=lead_list.pk, enrichment_type="partial",
        output="skip_existing", quote_id=list_quote(workspace, lead_list),
    ).workflow.pk  # fmt: skip


@pytest.mark.parametrize(("threshold", "analyzed"), [(10, True), (11, False)])
def test_a_plan_of_many_items_analyzes_the_item_table(
    funded, settings, monkeypatch, threshold, analyzed
):
    monkeypatch.setattr(execution, "_ANALYZE_AFTER_ITEMS", threshold)
    # Statistics that know the table well: only the plan's size decides.
    monkeypatch.setattr(execution, "_statistics_behind", lambda table, items: False)
    workflow_id = _planned_run(funded, 10)
    before = _analyze_count()

    execution.workflow_plan(workflow_id=workflow_id)

    assert WorkflowItem.objects.filter(workflow_id=workflow_id).count() == 10
    assert (_analyze_count() > before) is analyzed


def test_a_small_plan_analyzes_an_item_table_its_statistics_think_empty(funded):
    with connection.cursor() as cursor:
        # A new database's table: TRUNCATE leaves it without statistics, ANALYZE of the empty
        # table gives it statistics of none.
        cursor.execute(f"TRUNCATE {_ITEMS} CASCADE")
        cursor.execute(f"ANALYZE {_ITEMS}")
    workflow_id = _planned_run(funded, 10)
    assert execution._statistics_behind(_ITEMS, 10)
    before = _analyze_count()

    execution.workflow_plan(workflow_id=workflow_id)

    assert WorkflowItem.objects.filter(workflow_id=workflow_id).count() == 10
    assert _analyze_count() > before
    assert not execution._statistics_behind(_ITEMS, 10)
