"""The provider result cache is per workspace: a workspace's second lookup of a person is free,
and another workspace's lookup of the same person is a fresh call that shows nothing of the
first (docs/providers.md, "Result cache and call records")."""

import uuid

import pytest
import responses

from providers.base import CompanyInput, DataPoint, PersonInput
from providers.engine import enrich_company, run_batch
from providers.models import ProviderCall

pytestmark = pytest.mark.django_db

EMAIL = {DataPoint.EMAIL}
JANE = PersonInput(first_name="Jane", last_name="Doe", domain="acme.com")
HUNTER_FINDER = "https://api.hunter.io/v2/email-finder"
NEVERBOUNCE = "https://api.neverbounce.com/v4/single/check"
HUNTER_FOUND = {
    "data": {"email": "jane@acme.com", "score": 90, "verification": {"status": "valid"}}
}


def _steps(result):
    return [(a.provider, a.data_point, a.outcome, a.cached, a.cost) for a in result.attempts]


@responses.activate
def test_engine_cache_scope_is_the_workspace(settings):
    settings.SLUICE_WATERFALL_EMAIL = ["hunter"]
    settings.SLUICE_VERIFIER = "neverbounce"
    responses.add("GET", HUNTER_FINDER, json=HUNTER_FOUND)
    responses.add("GET", NEVERBOUNCE, json={"status": "success", "result": "valid"})
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())

    [first] = run_batch([JANE], EMAIL, tag="mine-1", workspace_id=mine)
    [again] = run_batch([JANE], EMAIL, tag="mine-2", workspace_id=mine)
    [other] = run_batch([JANE], EMAIL, tag="theirs", workspace_id=theirs)

    # the workspace's own second lookup is free; the other workspace pays its own calls
    assert len(responses.calls) == 4
    assert [(a.provider, a.cached, a.cost) for a in again.attempts] == [
        ("hunter", True, 0.0),
        ("neverbounce", True, 0.0),
    ]
    # and reads exactly like the first workspace's fresh lookup
    assert not any(a.cached for a in first.attempts)
    assert _steps(other) == _steps(first)
    assert (other.email, other.email_status) == (first.email, first.email_status)
    assert not ProviderCall.objects.filter(tag="theirs", cached=True).exists()


def test_engine_cache_scope_applies_to_company_lookups(settings):
    settings.SLUICE_SANDBOX_INSTANCES = {"sandbox": {"latency_ms": 0, "company_hit_rate": 1.0}}
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())

    for tag, workspace_id in (("mine-1", mine), ("theirs", theirs), ("mine-2", mine)):
        assert enrich_company(CompanyInput(domain="acme.com"), tag=tag, workspace_id=workspace_id)

    cached = dict(ProviderCall.objects.values_list("tag", "cached"))
    assert cached == {"mine-1": False, "theirs": False, "mine-2": True}
