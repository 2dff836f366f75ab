"""A provider may answer with values longer than our columns: they are cut to fit, so saving
an answer never fails (which would leave the lookup's hold to expire)."""

import pytest

from enrichment.services.company import _company_save
from leads.models import Company
from providers.base import CompanyResult

pytestmark = pytest.mark.django_db


def _max_length(field: str) -> int:
    return Company._meta.get_field(field).max_length


def test_company_save_cuts_overlong_provider_values_to_their_columns(workspace):
    # given an answer whose text values are far longer than any column
    result = CompanyResult(
        name="N" * 5000,
        domain="overlong.example",
        industry="I" * 5000,
        hq_location="H" * 5000,
        linkedin_url="https://www.linkedin.com/company/" + "x" * 5000,
        provider="sandbox",
    )

    # when it is saved
    company = _company_save(workspace=workspace, result=result, existing=None)

    # then each is cut to its column and the company is stored
    company.refresh_from_db()
    assert company.name == "N" * _max_length("name")
    assert company.industry == "I" * _max_length("industry")
    assert len(company.hq_location) == _max_length("hq_location")
    assert len(company.linkedin_url) == _max_length("linkedin_url")
    assert company.domain == "overlong.example"
