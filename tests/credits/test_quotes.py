import re
import time

import pytest
from django.db import transaction

from common.exceptions import (
    InsufficientCredits,
    NotFound,
    QuoteConsumed,
    QuoteExpired,
    QuoteMismatch,
    SpendCapExceeded,
    ValidationFailed,
)
from credits.models import Hold, Quote
from credits.services import canonical_params, hold_place, quote_create, quote_redeem
from tests.credits.factories import grant
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

PERSON_FULL = {"enrichment_type": "full"}


def redeem(workspace, quote, **overrides):
    call = {
        "workspace": workspace,
        "quote_id": quote.quote_id,
        "tool": quote.tool,
        "params": dict(quote.params),
        "row_count": quote.row_count,
        "cost": quote.estimated_cost,
    }
    return quote_redeem(**{**call, **overrides})


def test_quote_create_prices_and_signs_a_single_person(workspace):
    estimate = quote_create(workspace=workspace, tool="enrich_person", params=PERSON_FULL)
    quote = estimate.quote
    assert re.fullmatch(r"qte_k0_\d+_[0-9a-f]{32}", quote.quote_id)
    assert (quote.row_count, quote.estimated_cost, estimate.to_enrich) == (1, 11, 1)
    assert estimate.filter_hash == "none"
    assert (quote.expires_at - quote.issued_at).total_seconds() == 300
    assert not estimate.sufficient


def test_quote_redeem_consumes_once(workspace):
    quote = quote_create(workspace=workspace, tool="enrich_company", params={}).quote
    redeemed = redeem(workspace, quote, cost=1)
    assert redeemed.consumed_at is not None
    with pytest.raises(QuoteConsumed):
        redeem(workspace, quote, cost=1)


def test_quote_redeem_lower_cost_is_fine(workspace):
    quote = quote_create(workspace=workspace, tool="enrich_person", params=PERSON_FULL).quote
    assert redeem(workspace, quote, cost=0).consumed_at is not None


def test_quote_redeem_expired(workspace, settings):
    settings.SLUICE_QUOTE_TTL_SECONDS = 0
    quote = quote_create(workspace=workspace, tool="enrich_person", params=PERSON_FULL).quote
    with pytest.raises(QuoteExpired):
        redeem(workspace, quote)
    quote.refresh_from_db()
    assert quote.consumed_at is None


def test_quote_redeem_other_workspace_looks_unknown(workspace, other_workspace):
    quote = quote_create(workspace=workspace, tool="enrich_person", params=PERSON_FULL).quote
    with pytest.raises(QuoteMismatch) as other:
        redeem(other_workspace, quote)
    with pytest.raises(QuoteMismatch) as unknown:
        redeem(workspace, quote, quote_id="qte_k0_1700000000_" + "0" * 32)
    assert other.value.message == unknown.value.message
    redeem(workspace, quote)  # still good for its owner


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"params": {"enrichment_type": "partial"}}, "changed"),
        ({"tool": "enrich_company", "params": {}}, "quoted_tool"),
        ({"row_count": 2}, "quoted_row_count"),
    ],
)
def test_quote_redeem_mismatch_when_the_call_differs(workspace, change, field):
    quote = quote_create(workspace=workspace, tool="enrich_person", params=PERSON_FULL).quote
    with pytest.raises(QuoteMismatch) as caught:
        redeem(workspace, quote, **change)
    assert field in caught.value.details


def test_quote_redeem_cost_above_quote_is_spend_cap_exceeded(workspace):
    quote = quote_create(workspace=workspace, tool="enrich_person", params=PERSON_FULL).quote
    with pytest.raises(SpendCapExceeded) as caught:
        redeem(workspace, quote, cost=12)
    assert caught.value.details == {"cost": 12, "estimated_cost": 11}
    assert Quote.objects.get(pk=quote.pk).consumed_at is None


def test_quote_redeem_accepts_the_phone_only_spelling(workspace):
    quote = quote_create(
        workspace=workspace, tool="enrich_person", params={"enrichment_type": "phone-only"}
    ).quote
    assert quote.estimated_cost == 10
    redeem(workspace, quote, params={"enrichment_type": "phone_only"})


@pytest.mark.parametrize(
    "quote_id",
    ["", "nope", "qte_zz_1700000000_" + "a" * 32, "qte_k0_1700000000_" + "g" * 32],
)
def test_quote_redeem_malformed_or_unknown_kid_is_mismatch(workspace, quote_id):
    quote = quote_create(workspace=workspace, tool="enrich_company", params={}).quote
    with pytest.raises(QuoteMismatch):
        redeem(workspace, quote, quote_id=quote_id)


def test_quote_redeem_detects_a_tampered_row(workspace):
    quote = quote_create(workspace=workspace, tool="enrich_person", params=PERSON_FULL).quote
    Quote.objects.filter(pk=quote.pk).update(estimated_cost=1000)
    with pytest.raises(QuoteMismatch, match="signature"):
        redeem(workspace, quote, cost=500)


def test_quote_keys_rotate_without_voiding_quotes_in_flight(workspace, settings):
    settings.SLUICE_QUOTE_SIGNING_KEYS = ["old:first-secret"]
    old = quote_create(workspace=workspace, tool="enrich_company", params={}).quote
    settings.SLUICE_QUOTE_SIGNING_KEYS = ["new:second-secret", "old:first-secret"]
    new = quote_create(workspace=workspace, tool="enrich_company", params={}).quote
    assert old.quote_id.startswith("qte_old_")
    assert new.quote_id.startswith("qte_new_")
    redeem(workspace, old)
    redeem(workspace, new)
    settings.SLUICE_QUOTE_SIGNING_KEYS = ["new:second-secret"]
    newest = quote_create(workspace=workspace, tool="enrich_company", params={}).quote
    settings.SLUICE_QUOTE_SIGNING_KEYS = ["new:rotated-away"]
    with pytest.raises(QuoteMismatch):
        redeem(workspace, newest)


def test_quote_is_spent_only_together_with_its_hold(workspace):
    quote = quote_create(workspace=workspace, tool="enrich_person", params=PERSON_FULL).quote

    def paid_call() -> Hold:
        # what the enrichment app does: redeem and hold in one transaction
        with transaction.atomic():
            redeemed = redeem(workspace, quote)
            return hold_place(
                workspace=workspace, amount=11, reference="wf-1", workflow_id="wf-1", quote=redeemed
            )

    # given a paid call that cannot get its hold
    with pytest.raises(InsufficientCredits):
        paid_call()
    # then the quote is still unused, and pays once the credits are there
    assert Quote.objects.get(pk=quote.pk).consumed_at is None
    grant(workspace, 11)
    hold = paid_call()
    assert Hold.objects.get(pk=hold.pk).quote_id == quote.pk
    assert hold.entries.get().quote_id == quote.pk
    with pytest.raises(QuoteConsumed):
        paid_call()


def test_canonical_params_bind_what_prices_each_tool():
    list_id = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    assert canonical_params(tool="enrich_list", list_id=list_id, enrichment_type="phone-only") == {
        "list_id": list_id.lower(),
        "enrichment_type": "phone_only",
        "output": "skip_existing",
    }
    assert canonical_params(
        tool="enrich_task", task_id="cl-task_1", entity_ids=["b", "a", "b"]
    ) == {"task_id": "cl-task_1", "entity_ids": ["a", "b"], "enrichment_type": "partial"}
    assert canonical_params(tool="enrich_company", enrichment_type="full") == {}
    with pytest.raises(ValidationFailed):
        canonical_params(tool="enrich_list")
    with pytest.raises(NotFound):
        canonical_params(tool="enrich_list", list_id="not-a-list")
    with pytest.raises(ValidationFailed):
        canonical_params(tool="enrich_task", task_id="t", entity_ids=[str(n) for n in range(2001)])
    with pytest.raises(ValidationFailed):
        canonical_params(tool="run_smart_agent")


# --- the endpoint ------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api/v2", "/api/v1/public"])
def test_estimate_endpoint_returns_the_sdk_shape_plus_ours(api, workspace, prefix):
    grant(workspace, 15)
    body = api.post(
        f"{prefix}/credits/estimate",
        {"tool": "enrich_person", "scope": "phone-only", "row_count": 99},
        format="json",
    ).json()
    assert body["tool"] == "enrich_person"
    assert (body["estimated_cost"], body["row_count"], body["to_enrich"]) == (10, 1, 1)
    assert body["already_enriched"] == 0
    assert (body["available_credits"], body["sufficient"]) == (15, True)
    assert body["enrichment_type"] == "phone_only"
    assert body["filter_hash"] == "none"
    assert 0 < body["expires_at"] - time.time() <= 300
    assert Quote.objects.get(pk=body["quote_id"]).workspace == workspace


def test_estimate_endpoint_reads_data_points_and_company(api):
    by_points = api.post(
        "/api/v2/credits/estimate",
        {"tool": "enrich_person", "data_points": ["Email", "Phone"]},
        format="json",
    ).json()
    assert by_points["estimated_cost"] == 11
    company = api.post("/api/v2/credits/estimate", {"tool": "enrich_company"}, format="json")
    assert company.json()["estimated_cost"] == 1
    assert company.json()["enrichment_type"] is None


def test_estimate_endpoint_validates(api):
    response = api.post(
        "/api/v2/credits/estimate", {"tool": "launch_rocket", "entity_ids": "x"}, format="json"
    )
    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]) == {"tool", "entity_ids"}
    response = api.post(
        "/api/v2/credits/estimate",
        {"tool": "enrich_person", "enrichment_type": "everything"},
        format="json",
    )
    assert "enrichment_type" in assert_error(response, 400, "validation_error")["details"]
    response = api.post("/api/v2/credits/estimate", {"tool": "enrich_list"}, format="json")
    assert "list_id" in assert_error(response, 400, "validation_error")["details"]
