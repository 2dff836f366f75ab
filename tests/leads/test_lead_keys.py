"""The indexes an import writes (leads migration 0007): no index nothing reads, one membership
key leading with the lead; lookups, dedupe and orderings on the keys as before."""

import io

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from leads import canonical, suppression
from leads.imports import leads_import_file
from leads.imports.writers import OrmWriter, PostgresCopyWriter
from leads.models import Lead, ListMembership
from leads.selectors import people_search_queryset, search_page
from tests.leads.factories import LeadFactory, LeadListFactory

BEFORE = [("leads", "0006_lead_writes_in_place")]
AFTER = [("leads", "0007_fewer_import_indexes")]

# Canonical keys (lower case) whose order differs between code points and a linguistic
# collation (accented letters after `z`): code point order is what `C.UTF-8` gave and what
# byte order gives.
SLUGS = ["zoe", "émile", "emile", "ana", "ångström", "bob", "zoë"]


def _indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {name for (name,) in cursor.fetchall()}


def _identity_order(workspace_id) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT identity_key FROM leads_lead WHERE workspace_id = %s ORDER BY identity_key",
            [workspace_id],
        )
        return [key for (key,) in cursor.fetchall()]


def _membership_key() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_constraint c "
            "CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
            "WHERE c.conname = 'membership_unique' ORDER BY k.n"
        )
        return [name for (name,) in cursor.fetchall()]


def _csv(slugs: list[str]) -> bytes:
    rows = ["First Name,Last Name,LinkedIn URL,Company,Website"]
    rows += [f"P,{slug},https://www.linkedin.com/in/{slug}/,Acme,acme.example" for slug in slugs]
    return ("\n".join(rows) + "\n").encode()


@pytest.mark.django_db
def test_keys_are_in_byte_order_and_the_import_writes_no_index_nothing_reads():
    assert _indexes("leads_lead") == {
        "leads_lead_pkey",
        "lead_identity_unique_per_workspace",
        "lead_linkedin",
        "lead_recent",
        "leads_lead_company_id_a66f0010",
    }
    assert _indexes("leads_listmembership") == {
        "leads_listmembership_pkey",
        "membership_page",
        "membership_unique",
    }
    assert _membership_key() == ["lead_id", "lead_list_id"]


@pytest.mark.django_db
@pytest.mark.parametrize("writer", [PostgresCopyWriter, OrmWriter], ids=["copy", "orm"])
def test_import_of_non_ascii_keys_dedupes_and_matches_on_the_exact_key(workspace, writer):
    # given leads whose keys differ only in accents
    lead_list = LeadListFactory(workspace=workspace)
    first = leads_import_file(workspace=workspace, lead_list=lead_list,
                              stream=io.BytesIO(_csv(SLUGS)), writer=writer)  # fmt: skip
    # when the same people are imported again, one of them twice, in another case
    again = leads_import_file(
        workspace=workspace,
        lead_list=lead_list,
        stream=io.BytesIO(_csv([*SLUGS, "Émile"])),
        writer=writer,
    )
    # then each key is one lead, matched the second time, and in the list once
    assert (first.rows_imported, again.rows_imported) == (7, 0)
    assert (again.rows_updated, again.rows_merged) == (7, 1)
    assert Lead.objects.filter(workspace=workspace).count() == 7
    assert ListMembership.objects.filter(lead_list=lead_list).count() == 7
    # and the keys are ordered by code point (what `C.UTF-8` ordered them by too)
    keys = _identity_order(workspace.pk)
    assert keys == sorted(keys)
    assert keys[3:] == ["li:zoe", "li:zoë", "li:ångström", "li:émile"]


@pytest.mark.django_db
def test_lookups_on_the_keys_find_exactly_their_lead(workspace):
    # given
    leads = {
        slug: LeadFactory(workspace=workspace, linkedin_url=f"https://www.linkedin.com/in/{slug}")
        for slug in ("émile", "emile", "émilé")
    }
    # when / then: the suppression list's and erasure's lookups by LinkedIn URL and identity
    by_url = Lead.objects.filter(linkedin_url="https://www.linkedin.com/in/émile")
    assert list(by_url) == [leads["émile"]]
    assert list(Lead.objects.filter(identity_key="li:émilé")) == [leads["émilé"]]
    entry = suppression.Entry(
        suppression.Kind.LINKEDIN_URL, canonical.linkedin_url("linkedin.com/in/Emile/")
    )
    matching = suppression._matching_leads(Lead.objects.filter(workspace=workspace), [entry])
    assert list(matching) == [leads["emile"]]


@pytest.mark.django_db
def test_search_by_domain_and_newest_first_pages_are_unchanged(workspace):
    # given
    leads = LeadFactory.create_batch(3, workspace=workspace, domain="acme.example")
    LeadFactory(workspace=workspace, domain="other.example")
    # when
    page = search_page(
        queryset=people_search_queryset(workspace=workspace, filters={"domain": "ACME.example"}),
        kind="people",
        limit=10,
        cursor=None,
    )
    # then
    assert [lead.pk for lead in page.items] == [lead.pk for lead in reversed(leads)]


@pytest.mark.django_db
def test_membership_key_still_one_per_lead_and_list_and_a_lead_deletion_removes_them(workspace):
    # given a lead in two lists
    lead = LeadFactory(workspace=workspace)
    lists = LeadListFactory.create_batch(2, workspace=workspace)
    for lead_list in lists:
        ListMembership.objects.create(lead=lead, lead_list=lead_list)
    # when it is added again / then
    with pytest.raises(IntegrityError), transaction.atomic():
        ListMembership.objects.create(lead=lead, lead_list=lists[0])
    # when the lead is deleted / then its memberships go with it
    Lead.objects.filter(pk=lead.pk).delete()
    assert not ListMembership.objects.filter(lead_list__in=lists).exists()


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_leads_keys_and_memberships_and_reverts():
    # given a database as migration 0006 left it, with leads and memberships
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    workspace = apps.get_model("accounts", "Workspace").objects.create(name="w")
    lead_model = apps.get_model("leads", "Lead")
    leads = [
        lead_model.objects.create(workspace=workspace, identity_key=f"li:{slug}",
                                  linkedin_url=f"https://www.linkedin.com/in/{slug}")
        for slug in SLUGS
    ]  # fmt: skip
    lead_list = apps.get_model("leads", "LeadList").objects.create(workspace=workspace, name="l")
    for lead in leads:
        apps.get_model("leads", "ListMembership").objects.create(lead=lead, lead_list=lead_list)
    order_before = _identity_order(workspace.pk)
    assert "lead_domain" in _indexes("leads_lead")

    # when
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    # then the same rows, in the same order, found by their keys
    assert _identity_order(workspace.pk) == order_before == sorted(order_before)
    assert Lead.objects.get(identity_key="li:émile").linkedin_url.endswith("/émile")
    assert Lead.objects.filter(linkedin_url__in=["https://www.linkedin.com/in/emile"]).count() == 1
    assert ListMembership.objects.filter(lead_list_id=lead_list.pk).count() == 7
    assert _membership_key() == ["lead_id", "lead_list_id"]
    assert "leads_listmembership_lead_id_fb776cff" not in _indexes("leads_listmembership")

    # and it reverts, and applies again
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    assert "lead_domain" in _indexes("leads_lead")
    assert _membership_key() == ["lead_list_id", "lead_id"]
    assert _identity_order(workspace.pk) == order_before
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
