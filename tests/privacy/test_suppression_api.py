"""The suppression list through the API: keyed hashes only, bulk add and remove, CSV, checks by
value, scopes and workspace isolation, and what it hides (search, list pages, exports)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from accounts import scopes
from enrichment.models import Workflow, WorkflowItem
from leads import canonical, suppression
from leads.models import Lead, ListMembership, Suppression
from tests.helpers import assert_error
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db

URL = "/api/v2/suppressions"


def test_suppression_list_stores_keyed_hashes_never_the_values(api, workspace):
    response = api.post(
        URL,
        {"entries": [{"kind": "email", "value": " Grace@Navy.Example "},
                     {"kind": "phone", "value": "+1 415 555 0123"},
                     {"kind": "domain", "value": "https://www.spam.example/about"},
                     {"kind": "linkedin_url", "value": "linkedin.com/in/grace-h/"}]},
        format="json",
    )  # fmt: skip

    assert response.status_code == 201, response.content
    assert response.json() == {"added": 4, "already_listed": 0}
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind, digest FROM leads_suppression")
        rows = cursor.fetchall()
    dump = repr(rows).lower()
    for value in ("grace", "navy", "4155550123", "spam.example"):
        assert value not in dump
    # the canonical value, keyed: the same person written differently is the same entry
    assert suppression.digest("email", "grace@navy.example") in {digest for _, digest in rows}
    again = api.post(URL, {"entries": [{"kind": "email", "value": "grace@navy.example"}]},
                     format="json")  # fmt: skip
    assert again.json() == {"added": 0, "already_listed": 1}


def test_suppression_api_lists_checks_and_removes(api, other_api, workspace):
    entries = [{"kind": "email", "value": "a@x.example"}, {"kind": "email", "value": "b@x.example"}]
    api.post(URL, {"entries": entries}, format="json")
    operator = Suppression.objects.create(
        workspace=None, kind="domain", digest=suppression.digest("domain", "op.example")
    )

    page = api.get(URL, {"limit": 2}).json()
    assert [e["scope"] for e in page["suppressions"]] == ["operator", "workspace"]
    rest = api.get(URL, {"limit": 2, "cursor": page["cursor"]}).json()
    assert len(rest["suppressions"]) == 1
    assert rest["cursor"] is None
    listed = api.get(URL, {"kind": "email", "value": "A@X.example"}).json()["suppressions"]
    assert [entry["kind"] for entry in listed] == ["email"]
    assert api.get(URL, {"kind": "email", "value": "c@x.example"}).json()["suppressions"] == []
    # another workspace sees only the operator's entry, and cannot remove this one
    theirs = other_api.get(URL).json()["suppressions"]
    assert [e["id"] for e in theirs] == [operator.pk]
    removed = other_api.delete(URL, {"entries": [{"kind": "email", "value": "a@x.example"}]},
                               format="json")  # fmt: skip
    assert removed.json() == {"removed": 0}

    removed = api.delete(URL, {"entries": [{"kind": "email", "value": "a@x.example"}],
                               "ids": [operator.pk]}, format="json")  # fmt: skip

    assert removed.json() == {"removed": 1}  # the operator's entry is not the workspace's
    assert Suppression.objects.filter(workspace=workspace).count() == 1


def test_suppression_api_refuses_bad_entries_whole_and_too_many(api, workspace):
    response = api.post(URL, {"entries": [{"kind": "email", "value": "ok@x.example"},
                                          {"kind": "email", "value": "not an email"}]},
                        format="json")  # fmt: skip
    error = assert_error(response, 400, "validation_error")
    assert "1" in str(error["details"])
    assert not Suppression.objects.exists()  # nothing half-added

    too_many = [{"kind": "email", "value": f"p{i}@x.example"} for i in range(10_001)]
    assert_error(api.post(URL, {"entries": too_many}, format="json"), 400, "validation_error")
    assert_error(api.post(URL, {}, format="json"), 400, "validation_error")
    assert_error(api.post(URL, {"entries": [{"kind": "person", "value": "x"}]}, format="json"),
                 400, "validation_error")  # fmt: skip
    assert_error(api.get(URL, {"value": "x@y.example"}), 400, "validation_error")


def test_suppression_api_bulk_adds_ten_thousand_in_one_call(api, workspace):
    entries = [{"kind": "email", "value": f"p{i}@bulk.example"} for i in range(10_000)]

    response = api.post(URL, {"entries": entries}, format="json")

    assert response.status_code == 201
    assert response.json()["added"] == 10_000


def test_suppression_csv_import_by_columns_or_kind_value(api, workspace):
    by_columns = "email,phone\nann@csv.example,+14155550100\n,+14155550101\n"
    response = api.generic("POST", f"{URL}/csv", by_columns, content_type="text/csv")
    assert response.status_code == 201, response.content
    assert response.json()["added"] == 3

    by_pair = b"kind,value\ndomain,csv.example\nlinkedin_url,https://linkedin.com/in/ann\n"
    upload = SimpleUploadedFile("s.csv", by_pair, content_type="text/csv")
    response = api.post(f"{URL}/csv", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["added"] == 2

    bad = api.generic("POST", f"{URL}/csv", "name\nAnn\n", content_type="text/csv")
    assert_error(bad, 400, "validation_error")


def test_suppression_scopes(make_client, workspace):
    reader = make_client(workspace, scopes=[scopes.PRIVACY_READ])
    writer = make_client(workspace, scopes=[scopes.PRIVACY_WRITE])
    body = {"entries": [{"kind": "email", "value": "a@x.example"}]}

    assert_error(reader.post(URL, body, format="json"), 403, "insufficient_scope")
    assert reader.get(URL).status_code == 200
    assert writer.post(URL, body, format="json").status_code == 201
    assert_error(writer.get(URL), 403, "insufficient_scope")
    assert_error(reader.delete(URL, body, format="json"), 403, "insufficient_scope")


def test_suppressed_lead_is_never_returned_by_search_list_pages_or_exports(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    kept = LeadFactory(workspace=workspace, email="kept@x.example")
    hidden = LeadFactory(workspace=workspace, email="hidden@x.example", phone="+14155550199")
    for lead in (kept, hidden):
        ListMembership.objects.create(lead_list=lead_list, lead=lead)

    # an earlier run found both
    workflow = Workflow.objects.create(
        id="bulk-enrich-earlier", workspace=workspace, kind="bulk", enrichment_type="partial",
        status="completed", lead_list=lead_list, deadline=timezone.now(),
    )  # fmt: skip
    for lead in (kept, hidden):
        WorkflowItem.objects.create(
            workflow=workflow, lead=lead, chunk_no=0, status="completed", email=lead.email
        )

    # when the person is suppressed by one identifier
    api.post(URL, {"lead_ids": [str(hidden.pk)]}, format="json")

    hidden.refresh_from_db()
    assert hidden.suppressed_at is not None
    found = api.post("/api/v2/search/people", {}, format="json").json()["results"]
    assert [r["lead_id"] for r in found] == [str(kept.pk)]
    page = api.get(f"/api/v2/lead-lists/{lead_list.pk}/leads").json()
    assert [lead["lead_id"] for lead in page["leads"]] == [str(kept.pk)]
    exported = api.get("/api/v2/export/json", {"list_id": str(lead_list.pk)}).json()["leads"]
    by_id = {row["lead_id"]: row for row in exported}
    assert (by_id[str(hidden.pk)]["email"], by_id[str(hidden.pk)]["phone"]) == (None, None)
    assert by_id[str(kept.pk)]["email"] == "kept@x.example"
    assert_error(api.get(f"/api/v2/leads/{hidden.pk}/provenance"), 404, "not_found")
    items = api.get(f"/api/v2/enrichment/{workflow.pk}/items").json()["items"]
    assert [item["lead_id"] for item in items] == [str(kept.pk)]
    tasks = [{"entity_id": str(lead.pk), "field": "emails"} for lead in (kept, hidden)]
    rows = api.post("/api/v2/enrichment/batch/query", {"tasks": tasks}, format="json").json()
    assert [row["entity_id"] for row in rows["enrichments"]] == [str(kept.pk)]

    # and lifting the entries shows the lead again
    ids = [entry["id"] for entry in api.get(URL).json()["suppressions"]]
    assert api.delete(URL, {"ids": ids}, format="json").json() == {"removed": len(ids)}
    hidden.refresh_from_db()
    assert hidden.suppressed_at is None
    assert len(api.post("/api/v2/search/people", {}, format="json").json()["results"]) == 2


def test_suppressed_rows_of_an_import_are_marked_or_skipped(api, workspace):
    api.post(URL, {"entries": [{"kind": "email", "value": "no@imp.example"}]}, format="json")
    lead_list = LeadListFactory(workspace=workspace)
    csv = "first_name,last_name,email\nNo,Body,no@imp.example\nYes,Body,yes@imp.example\n"

    skipped = api.generic(
        "POST", f"/api/v2/lead-lists/{lead_list.pk}/import?suppressed_rows=skip", csv,
        content_type="text/csv",
    ).json()  # fmt: skip
    assert skipped["rows_imported"] == 1
    assert skipped["skip_reasons"] == {"suppressed": 1}
    assert not Lead.objects.filter(email="no@imp.example").exists()

    marked = api.generic(
        "POST", f"/api/v2/lead-lists/{lead_list.pk}/import", csv, content_type="text/csv"
    ).json()
    assert marked["rows_imported"] == 1
    assert Lead.objects.get(email="no@imp.example").suppressed_at is not None
    assert Lead.objects.get(email="yes@imp.example").suppressed_at is None


def test_suppression_by_person_identity_matches_the_same_person_written_differently(api, workspace):
    already = LeadFactory(workspace=workspace, first_name="Grace", last_name="Hopper",
                          linkedin_url=None, domain="navy.example")  # fmt: skip
    person = {"first_name": "GRACE", "last_name": "hopper", "domain": "https://www.navy.example/"}

    response = api.post(URL, {"entries": [{"kind": "person", "person": person}]}, format="json")

    assert response.json() == {"added": 1, "already_listed": 0}
    already.refresh_from_db()
    assert already.suppressed_at is not None
    # an import row of the same person (accents and case aside) is covered too
    key = canonical.person_identify(first_name="Grâce", last_name="HOPPER", domain="navy.example")
    row = Lead(workspace=workspace, identity_key=key.key, domain="navy.example")
    assert suppression.identities_suppressed(workspace_id=workspace.pk, people=[row]) == {key.key}
    nobody = api.post(URL, {"entries": [{"kind": "person", "person": {"first_name": "X"}}]},
                      format="json")  # fmt: skip
    assert_error(nobody, 400, "validation_error")
