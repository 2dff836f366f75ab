"""GET/PUT /waterfall: validation, versions, scopes, workspace isolation."""

import pytest

from accounts import scopes
from providers.base import DataPoint
from providers.models import WaterfallConfig
from providers.selectors import waterfall_resolve
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/v2/waterfall"


@pytest.fixture(autouse=True)
def _operator_offers(settings):
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b", "sandbox_c"]
    settings.SLUICE_WATERFALL_PHONE = ["sandbox_a"]
    settings.SLUICE_WATERFALL_COMPANY = ["sandbox"]
    settings.SLUICE_VERIFIER = "sandbox"


def test_waterfall_get_without_a_configuration_shows_the_operator_defaults(api):
    body = api.get(URL).json()

    assert body["version"] == 0
    assert body["email"] == ["sandbox_a", "sandbox_b", "sandbox_c"]
    assert body["verifier"] == "sandbox"
    assert (body["catch_all_policy"], body["min_email_status"]) == ("accept", "unknown")
    assert body["available"]["email"] == ["sandbox_a", "sandbox_b", "sandbox_c"]
    assert set(body["available"]["verifier"]) == {"sandbox", "sandbox_a", "sandbox_b", "sandbox_c"}


def test_waterfall_put_writes_a_new_version_each_time_and_fills_defaults(api, workspace):
    first = api.put(
        URL,
        {"email": ["sandbox_c", "sandbox_a"], "catch_all_policy": "reject"},
        format="json",
    )
    second = api.put(URL, {"email": "auto", "min_email_status": "valid"}, format="json")

    assert first.status_code == 200, first.json()
    assert first.json()["version"] == 1
    assert first.json()["email"] == ["sandbox_c", "sandbox_a"]
    assert first.json()["phone"] == ["sandbox_a"]  # left out: the operator's default
    assert first.json()["catch_all_policy"] == "reject"
    assert second.json()["version"] == 2
    assert second.json()["email"] == ["auto"]
    assert second.json()["catch_all_policy"] == "accept"  # a PUT replaces the whole version
    assert second.json()["min_email_status"] == "valid"
    # auto with no history: the operator's order, ranked on priors
    assert second.json()["effective"]["email"] == ["sandbox_a", "sandbox_b", "sandbox_c"]
    assert second.json()["auto"][0]["source"] == "prior"
    assert list(
        WaterfallConfig.objects.filter(workspace=workspace).values_list("version", flat=True)
    ) == [1, 2]
    # an earlier version stays readable: a run that pinned it keeps its orders
    pinned = waterfall_resolve(workspace_id=workspace.pk, version=1)
    assert pinned.orders[DataPoint.EMAIL] == ("sandbox_c", "sandbox_a")


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"email": ["sandbox_a", "hunter"]}, "email", "Unknown provider(s) hunter"),
        ({"phone": ["sandbox_b"]}, "phone", "Unknown provider(s) sandbox_b"),
        ({"email": []}, "email", "at least one provider"),
        ({"email": ["sandbox_a", "sandbox_a"]}, "email", "only once"),
        ({"email": "fastest"}, "email", 'Expected "auto" or a list'),
        ({"verifier": "zerobounce"}, "verifier", "Unknown verifier"),
        ({"catch_all_policy": "maybe"}, "catch_all_policy", ""),
        ({"min_email_status": "invalid"}, "min_email_status", ""),
    ],
)
def test_waterfall_put_refuses_bad_input_and_writes_nothing(api, workspace, body, field, fragment):
    response = api.put(URL, {"email": ["sandbox_a"], **body}, format="json")

    assert_error(response, 400, "validation_error")
    details = response.json()["error"]["details"]
    assert field in details
    assert fragment in " ".join(details[field])
    assert not WaterfallConfig.objects.filter(workspace=workspace).exists()


def test_waterfall_put_needs_the_admin_scope(make_client, workspace):
    reader = make_client(workspace, scopes=[scopes.ENRICH_READ])

    assert reader.get(URL).status_code == 200
    assert_error(
        reader.put(URL, {"email": ["sandbox_a"]}, format="json"), 403, "insufficient_scope"
    )
    assert not WaterfallConfig.objects.exists()


def test_waterfall_configurations_are_per_workspace(api, other_api, workspace, other_workspace):
    api.put(URL, {"email": ["sandbox_b"], "catch_all_policy": "reject"}, format="json")

    theirs = other_api.get(URL).json()
    other_api.put(URL, {"email": ["sandbox_c"]}, format="json")

    assert theirs["version"] == 0
    assert theirs["email"] == ["sandbox_a", "sandbox_b", "sandbox_c"]
    assert theirs["catch_all_policy"] == "accept"
    mine = api.get(URL).json()
    assert (mine["version"], mine["email"], mine["catch_all_policy"]) == (
        1,
        ["sandbox_b"],
        "reject",
    )
    assert other_api.get(URL).json()["version"] == 1
    assert waterfall_resolve(workspace_id=other_workspace.pk).orders[DataPoint.EMAIL] == (
        "sandbox_c",
    )


def test_waterfall_resolve_drops_a_provider_the_operator_removed(api, workspace, settings):
    api.put(URL, {"email": ["sandbox_c", "sandbox_a"]}, format="json")
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]

    resolved = waterfall_resolve(workspace_id=workspace.pk)

    assert resolved.orders[DataPoint.EMAIL] == ("sandbox_a",)


def test_waterfall_put_refuses_a_misspelt_field_instead_of_resetting_it(api, workspace):
    response = api.put(URL, {"emial": ["sandbox_b"]}, format="json")

    assert_error(response, 400, "validation_error")
    assert response.json()["error"]["details"] == {"emial": ["Unknown field."]}
    assert not WaterfallConfig.objects.filter(workspace=workspace).exists()
