"""A workspace holds at most SLUICE_QUOTE_MAX_LIVE_PER_WORKSPACE live quotes: estimates are free
to any `credits:read` key, so each new one supersedes the oldest beyond the cap."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import scopes
from common.exceptions import QuoteMismatch
from credits.models import Quote
from credits.services import quote_create, quote_redeem

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cap_of_three(settings):
    settings.SLUICE_QUOTE_MAX_LIVE_PER_WORKSPACE = 3


def _quote(workspace, *, age_seconds: int = 0) -> Quote:
    quote = quote_create(workspace=workspace, tool="enrich_company", params={}).quote
    if age_seconds:
        # Issued that long ago (ids carry whole seconds, so the test spaces them out).
        Quote.objects.filter(pk=quote.pk).update(
            issued_at=quote.issued_at - timedelta(seconds=age_seconds)
        )
    return quote


def _redeem(workspace, quote: Quote) -> Quote:
    return quote_redeem(
        workspace=workspace,
        quote_id=quote.quote_id,
        tool=quote.tool,
        params={},
        row_count=quote.row_count,
        cost=quote.estimated_cost,
    )


def test_quotes_cap_the_newest_supersedes_the_oldest_live_quote(workspace, other_workspace):
    # given three live quotes, 30, 20 and 10 seconds old, and another workspace's quote
    oldest, middle, newer = (_quote(workspace, age_seconds=age) for age in (30, 20, 10))
    theirs = _quote(other_workspace, age_seconds=40)
    # when a fourth is issued
    newest = _quote(workspace)
    # then the oldest is gone and redeems like an unknown id; the others stand
    live = set(Quote.objects.filter(workspace=workspace).values_list("pk", flat=True))
    assert live == {middle.pk, newer.pk, newest.pk}
    with pytest.raises(QuoteMismatch):
        _redeem(workspace, oldest)
    assert _redeem(workspace, newest).consumed_at is not None
    assert Quote.objects.filter(pk=theirs.pk).exists()


def test_quotes_cap_leaves_used_and_expired_quotes_alone(workspace):
    # given a used quote and an expired one, both older than three live ones
    used = _quote(workspace, age_seconds=60)
    _redeem(workspace, used)
    expired = _quote(workspace, age_seconds=50)
    Quote.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    live = [_quote(workspace, age_seconds=age) for age in (30, 20, 10)]
    # when
    newest = _quote(workspace)
    # then only the oldest live quote was superseded
    kept = set(Quote.objects.filter(workspace=workspace).values_list("pk", flat=True))
    assert kept == {used.pk, expired.pk, live[1].pk, live[2].pk, newest.pk}


def test_quotes_cap_a_read_only_key_cannot_pile_up_quote_rows(make_client, workspace):
    # given a key that may only read credits
    client = make_client(workspace, scopes=[scopes.CREDITS_READ])
    # when it asks for 20 estimates
    for _ in range(20):
        response = client.post("/api/v2/credits/estimate", {"tool": "enrich_person"}, format="json")
        assert response.status_code == 200, response.content
    # then the workspace holds three quotes, the last one issued among them
    assert Quote.objects.filter(workspace=workspace).count() == 3
    assert Quote.objects.filter(pk=response.json()["quote_id"]).exists()
