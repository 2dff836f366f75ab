"""Erasure on request: the person leaves every table (checked by reading every text column of
every table), their export files go, a receipt says what went, a repeat is harmless, and a
later run does not source them again."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from common.bulk import rows_update
from credits.selectors import balance_get
from enrichment import waterfall
from enrichment.models import ItemStatus, Workflow, WorkflowItem
from leads import canonical, exports
from leads.models import Lead, LeadList, ListMembership, Suppression
from privacy.models import ErasureReceipt
from providers.models import ResultCacheEntry
from tests.enrichment.factories import list_quote, list_with_leads
from tests.helpers import assert_error
from tests.leads.factories import LeadFactory, LeadListFactory
from tests.privacy.conftest import assert_ledger_consistent, wait_terminal

ERASURE = "/api/v2/privacy/erasure"
_TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb")


def rows_containing(value: str) -> dict[str, int]:
    """Every text column of every table in the database, read for `value` (any case)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = ANY(%s)",
            [list(_TEXT_TYPES)],
        )
        columns = cursor.fetchall()
        hits = {}
        for table, column in columns:
            cursor.execute(
                f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',  # noqa: S608
                [f"%{value}%"],
            )
            (count,) = cursor.fetchone()
            if count:
                hits[f"{table}.{column}"] = count
    return hits


def _enrich(api, workspace, lead_list: LeadList):
    started = api.post(
        "/api/v2/enrichment/bulk",
        {"list_id": str(lead_list.pk), "quote_id": list_quote(workspace, lead_list)},
        format="json",
    )
    assert started.status_code == 202, started.content
    return wait_terminal(started.json()["workflow_id"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_erasure_leaves_no_trace_in_any_table_and_the_person_is_not_sourced_again(
    api, other_api, funded, worker, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    # given an enriched list, and a person in it the sandbox found an email for
    lead_list = list_with_leads(funded, 10, emails_found=True)
    workflow = _enrich(api, funded, lead_list)
    found = WorkflowItem.objects.filter(workflow=workflow, status=ItemStatus.COMPLETED)
    item = found.select_related("lead").first()
    assert item is not None, "the sandbox found no email in ten people"
    person = item.lead
    person.phone = "+14155550123"
    person.save(update_fields=["phone"])
    second_list = LeadListFactory(workspace=funded)
    ListMembership.objects.create(lead_list=second_list, lead=person)
    export = exports.export_csv_create(workspace=funded, api_key=api.api_key, list_id=lead_list.pk)
    export_files = list(Path(settings.EXPORT_DIR).rglob("*.csv"))
    assert export_files
    before = api.get(f"/api/v2/export/csv/download/{export.file_id}", {"token": export.token})
    assert before.status_code == 200
    values = [person.email, canonical.linkedin_slug(person.linkedin_url), "4155550123",
              person.last_name]  # fmt: skip
    assert all(rows_containing(value) for value in values)
    assert ResultCacheEntry.objects.filter(value=person.email).exists()

    # when the person asks to be erased
    response = api.post(ERASURE, {"email": person.email.upper()}, format="json")

    # then the receipt says what went
    assert response.status_code == 201, response.content
    receipt = response.json()
    removed = receipt["removed"]
    assert (removed["leads"], removed["list_memberships"], removed["workflow_items"]) == (1, 2, 1)
    assert removed["provider_cache_entries"] >= 1
    assert removed["export_files"] == 1
    assert removed["suppressions_added"] == 4  # email, LinkedIn, phone, identity
    # and no table holds any of their values
    for value in values:
        assert rows_containing(value) == {}, value
    assert not any(path.exists() for path in export_files)
    download = api.get(f"/api/v2/export/csv/download/{export.file_id}", {"token": export.token})
    assert download.status_code == 404
    assert_ledger_consistent(funded)  # the ledger keeps its amounts

    # a repeat removes nothing and answers the same receipt; it can be read later
    again = api.post(ERASURE, {"email": person.email}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, receipt["id"])
    assert api.get(f"{ERASURE}/{receipt['id']}").json()["removed"] == removed
    assert_error(other_api.get(f"{ERASURE}/{receipt['id']}"), 404, "not_found")

    # when the person is imported again and the list enriched again
    csv = f"first_name,last_name,linkedin_url\nPat,{person.last_name},{person.linkedin_url}\n"
    imported = api.generic(
        "POST", f"/api/v2/lead-lists/{lead_list.pk}/import", csv, content_type="text/csv"
    )
    assert imported.status_code == 201, imported.content
    rerun = _enrich(api, funded, lead_list)

    # then they are not sourced again
    back = Lead.objects.get(workspace=funded, linkedin_url=person.linkedin_url)
    assert back.suppressed_at is not None
    again_item = WorkflowItem.objects.get(workflow=rerun, lead=back)
    assert (again_item.status, again_item.error) == (ItemStatus.SKIPPED, waterfall.SUPPRESSED)
    assert (again_item.credits_charged, again_item.attempts) == (0, [])
    assert rows_containing(person.email) == {}


@pytest.mark.django_db
def test_erasure_request_validation_and_scope(api, make_client, workspace):
    from accounts import scopes

    assert_error(api.post(ERASURE, {}, format="json"), 400, "validation_error")
    both = {"email": "a@x.example", "phone": "+14155550123"}
    assert_error(api.post(ERASURE, both, format="json"), 400, "validation_error")
    assert_error(api.post(ERASURE, {"email": "nope"}, format="json"), 400, "validation_error")
    assert_error(api.post(ERASURE, {"lead_id": "nope"}, format="json"), 400, "validation_error")
    unknown = "00000000-0000-0000-0000-000000000000"
    assert_error(api.post(ERASURE, {"lead_id": unknown}, format="json"), 404, "not_found")
    reader = make_client(workspace, scopes=[scopes.PRIVACY_READ])
    body = {"email": "a@x.example"}
    assert_error(reader.post(ERASURE, body, format="json"), 403, "insufficient_scope")


@pytest.mark.django_db
def test_erasure_by_lead_id_is_idempotent_and_stays_in_its_workspace(api, workspace):
    lead = LeadFactory(workspace=workspace, email="twin@x.example")
    elsewhere = LeadFactory(email="twin@x.example")

    first = api.post(ERASURE, {"lead_id": str(lead.pk)}, format="json")
    again = api.post(ERASURE, {"lead_id": str(lead.pk)}, format="json")

    assert first.status_code == 201
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert Lead.objects.filter(pk=elsewhere.pk).exists()  # another workspace's lead stays
    assert not Suppression.objects.filter(workspace=elsewhere.workspace).exists()


@pytest.mark.django_db
def test_erase_command_is_operator_wide(workspace, other_workspace):
    mine = LeadFactory(workspace=workspace, email="everywhere@x.example")
    theirs = LeadFactory(workspace=other_workspace, email="everywhere@x.example")

    call_command("erase_person", email="everywhere@x.example")

    assert not Lead.objects.filter(pk__in=[mine.pk, theirs.pk]).exists()
    operator = Suppression.objects.filter(workspace=None)
    assert set(operator.values_list("kind", flat=True)) == {"email", "linkedin_url", "person"}
    receipt = ErasureReceipt.objects.get()
    assert (receipt.workspace, receipt.origin, receipt.removed["leads"]) == (None, "command", 2)


@pytest.mark.django_db
def test_erase_admin_action_erases_the_selected_leads(client, workspace):
    admin = get_user_model().objects.create_superuser("root", "root@x.example", "pw")
    client.force_login(admin)
    leads = [LeadFactory(workspace=workspace) for _ in range(2)]

    response = client.post(
        "/admin/leads/lead/",
        {"action": "erase_people", "_selected_action": [str(lead.pk) for lead in leads]},
    )

    assert response.status_code == 302
    assert not Lead.objects.filter(pk__in=[lead.pk for lead in leads]).exists()
    assert ErasureReceipt.objects.filter(origin="admin").count() == 2
    assert Suppression.objects.filter(workspace=workspace, source="erasure").count() == 4


@pytest.mark.django_db
def test_admin_removing_an_entry_shows_the_lead_again(client, workspace):
    from leads import suppression

    admin = get_user_model().objects.create_superuser("root", "root@x.example", "pw")
    client.force_login(admin)
    lead = LeadFactory(workspace=workspace, email="back@x.example")
    entry = suppression.Entry(suppression.Kind.EMAIL, "back@x.example")
    suppression.suppressions_add(workspace=workspace, entries=[entry])
    listed = Suppression.objects.get()

    response = client.post(f"/admin/leads/suppression/{listed.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.suppressed_at is None


@pytest.mark.django_db
def test_erasure_of_a_person_a_run_still_waits_on_settles_that_run(api, funded):
    # given a person run not yet processed (nothing is enqueued in this test's transaction)
    lead_list = LeadListFactory(workspace=funded)
    body = {"lead_list_id": str(lead_list.pk), "email": "waiting@x.example"}
    started = api.post("/api/v2/enrichment/person", body, format="json")
    assert started.status_code == 202, started.content
    workflow_id = started.json()["workflow_id"]

    # when the person is erased
    receipt = api.post(ERASURE, {"email": "waiting@x.example"}, format="json").json()

    # then the run does not wait for ever: it settles, charging nothing
    assert receipt["removed"]["workflow_items"] == 1
    workflow = Workflow.objects.get(pk=workflow_id)
    assert workflow.is_terminal
    assert (workflow.total, workflow.credits_charged) == (0, 0)
    assert_ledger_consistent(funded)
    assert balance_get(workspace=funded).held == 0


@pytest.mark.django_db
def test_erasure_by_email_finds_every_lead_holding_it(api, workspace, other_workspace):
    # given the address held three ways in the workspace, among other people, and elsewhere
    address = "shared@x.example"
    imported = LeadFactory(workspace=workspace, email=address)
    identified = LeadFactory(workspace=workspace, linkedin_url=None, email=address)
    enriched = LeadFactory(workspace=workspace)
    for n in range(5):
        LeadFactory(workspace=workspace, email=f"other{n}@x.example")
    elsewhere = LeadFactory(workspace=other_workspace, email=address)
    # (written as a chunk writes what it found: leads.models has no index on `email`)
    enriched.email, enriched.email_status, enriched.enriched_at = address, "valid", timezone.now()
    rows_update(Lead, [enriched], waterfall.LEAD_FIELDS)

    # when the person is erased by that address
    erased = api.post(ERASURE, {"email": "Shared@X.example"}, format="json")

    # then every lead of the workspace holding it went, and no other
    assert erased.status_code == 201, erased.content
    assert erased.json()["removed"]["leads"] == 3
    gone = [imported.pk, identified.pk, enriched.pk]
    assert not Lead.objects.filter(pk__in=gone).exists()
    assert Lead.objects.filter(workspace=workspace).count() == 5
    assert Lead.objects.filter(pk=elsewhere.pk).exists()
