import pytest
from django.contrib.auth import get_user_model

from leads.services import cohort_create
from tests.leads.factories import CompanyFactory, LeadListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_changelists_and_search_render(staff_client, workspace):
    lead_list = LeadListFactory(workspace=workspace, name="Admin list", lead_count=3)
    lead = lead_list.leads.first()
    CompanyFactory(workspace=workspace)
    cohort_create(workspace=workspace, entity_kind="person", entity_ids=[lead.id], source="t")
    for path in (
        "/admin/leads/lead/",
        f"/admin/leads/lead/?q={lead.last_name}",
        f"/admin/leads/lead/{lead.id}/change/",
        "/admin/leads/leadlist/",
        "/admin/leads/company/",
        "/admin/leads/cohort/",
        "/admin/leads/folder/",
    ):
        assert staff_client.get(path).status_code == 200, path
    lists_page = staff_client.get("/admin/leads/leadlist/").content.decode()
    assert "Admin list" in lists_page
    search = staff_client.get(f"/admin/leads/lead/?q={lead.linkedin_url}").content.decode()
    assert lead.full_name in search
