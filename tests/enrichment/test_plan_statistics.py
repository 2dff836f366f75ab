"""A large plan refreshes the item table's statistics at once, so the chunks' claims are
planned knowing the run's items exist (autovacuum's analyze may come a minute later)."""

import pytest
from django.db import connection

from enrichment.models import WorkflowItem
from enrichment.services import execution
from enrichment.services.start import bulk_enrichment_start
from tests.enrichment.factories import list_quote, list_with_leads

pytestmark = pytest.mark.django_db(transaction=True)


def _analyze_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s",
            [WorkflowItem._meta.db_table],
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("threshold", "analyzed"), [(10, True), (11, False)])
def test_a_plan_of_many_items_analyzes_the_item_table(
    funded, settings, monkeypatch, threshold, analyzed
):
    monkeypatch.setattr(execution, "_ANALYZE_AFTER_ITEMS", threshold)
    lead_list = list_with_leads(funded, 10)
    workflow = bulk_enrichment_start(
        workspace=funded, list_id=lead_list.pk, enrichment_type="partial",
        output="skip_existing", quote_id=list_quote(funded, lead_list),
    ).workflow  # fmt: skip
    before = _analyze_count()

    execution.workflow_plan(workflow_id=workflow.pk)

    assert WorkflowItem.objects.filter(workflow=workflow).count() == 10
    assert (_analyze_count() > before) is analyzed
