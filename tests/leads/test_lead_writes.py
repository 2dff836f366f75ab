"""An enriched lead is rewritten in place (a HOT update): no index of the lead table holds a
column a chunk writes on its leads, and the table keeps room in its pages for the new versions
(leads migration 0006)."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from common.bulk import rows_update
from enrichment import waterfall
from leads.models import Lead
from tests.leads.factories import LeadFactory

LEAD_FILLFACTOR = importlib.import_module(
    "leads.migrations.0006_lead_writes_in_place"
).LEAD_FILLFACTOR


def _lead_updates() -> tuple[int, int]:
    """(updates, of which HOT) of the lead table in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
            [Lead._meta.db_table],
        )
        return cursor.fetchone()


def _lead_table() -> tuple[bool, list[str] | None]:
    """(whether `lead_email` exists, the lead table's storage options)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('lead_email') IS NOT NULL")
        (has_email_index,) = cursor.fetchone()
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [Lead._meta.db_table])
        (options,) = cursor.fetchone()
    return has_email_index, options


@pytest.mark.django_db
def test_lead_write_of_a_chunk_is_a_hot_update(workspace):
    # given leads as imported: no email yet
    leads = LeadFactory.create_batch(3, workspace=workspace)
    updates_before, hot_before = _lead_updates()

    # when a chunk writes what it found on them (every column it writes on a lead)
    now = timezone.now()
    for n, lead in enumerate(leads):
        lead.email, lead.email_status, lead.email_confidence = f"p{n}@x.example", "valid", 90
        lead.phone, lead.provider, lead.enriched_at = f"+1415555010{n}", "sandbox", now
        lead.email_source, lead.email_found_at, lead.email_verifier = "sandbox", now, "sandbox"
        lead.email_workflow_id, lead.phone_source, lead.phone_found_at = "wf", "sandbox", now
        lead.phone_workflow_id, lead.suppressed_at = "wf", now
    rows_update(Lead, leads, waterfall.LEAD_FIELDS)

    # then each new version stayed in its page, with no new index entry
    updates, hot = _lead_updates()
    assert (updates - updates_before, hot - hot_before) == (3, 3)
    assert Lead.objects.filter(workspace=workspace, email="p1@x.example").count() == 1


@pytest.mark.django_db(transaction=True)
def test_lead_writes_migration_drops_the_email_index_keeps_room_in_pages_and_reverts():
    executor = MigrationExecutor(connection)
    before, after = [("leads", "0005_lean_lead_indexes")], executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    assert _lead_table() == (True, None)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    assert _lead_table() == (False, [f"fillfactor={LEAD_FILLFACTOR}"])

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(before)
    assert _lead_table() == (True, None)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
