import pytest
from django.urls import reverse
from django.utils import timezone

from providers.models import ProviderCall, ProviderMark
from providers.selectors import _percentile, provider_call_stats

pytestmark = pytest.mark.django_db


def _calls(provider, outcomes_ms, cached=False):
    now = timezone.now()
    ProviderCall.objects.bulk_create(
        ProviderCall(provider=provider, data_point="email", outcome=o, latency_ms=ms,
                     cost=1.0 if o == "found" else 0.0, cached=cached, created_at=now)
        for o, ms in outcomes_ms
    )  # fmt: skip


def test_stats_per_provider_hit_rate_error_rate_and_latency_percentiles():
    _calls("hunter", [("found", 100), ("found", 200), ("not_found", 300),
                      ("transient_error", 400), ("rate_limited", 1000)])  # fmt: skip
    _calls("hunter", [("found", 0)], cached=True)

    [row] = provider_call_stats()

    assert row["provider"] == "hunter"
    assert (row["calls"], row["cache_hits"], row["found"], row["errors"]) == (5, 1, 2, 2)
    assert row["hit_rate"] == pytest.approx(2 / 3)
    assert row["error_rate"] == pytest.approx(2 / 5)
    # PostgreSQL's percentile_cont and the Python fallback agree
    latencies = [100, 200, 300, 400, 1000]
    assert row["p50_ms"] == pytest.approx(_percentile(latencies, 0.5)) == 300
    assert row["p95_ms"] == pytest.approx(_percentile(latencies, 0.95)) == pytest.approx(880)
    assert row["cost"] == 2.0


def test_stats_by_data_point_keep_a_providers_lookups_apart_from_its_verdicts():
    # given the sandbox finding emails (one from the cache) and verifying them
    _calls("sandbox", [("found", 10), ("not_found", 30)])
    _calls("sandbox", [("found", 0)], cached=True)
    now = timezone.now()
    ProviderCall.objects.bulk_create(
        ProviderCall(provider="sandbox", data_point="email_verification", outcome="found",
                     latency_ms=ms, created_at=now)
        for ms in (2, 4)
    )  # fmt: skip

    # when
    split = provider_call_stats(by_data_point=True)
    [merged] = provider_call_stats()

    # then one row each, with its own latencies; unsplit, one row as before
    assert [(r["data_point"], r["calls"], r["found"], r["cache_found"]) for r in split] == [
        ("email", 2, 1, 1),
        ("email_verification", 2, 2, 0),
    ]
    assert [(r["p50_ms"], r["hit_rate"]) for r in split] == [(20, 0.5), (3, 1.0)]
    assert (merged["data_point"], merged["calls"], merged["found"]) == ("", 4, 3)


def test_admin_call_stats_page_and_mark_clear_action(admin_client):
    _calls("sandbox", [("found", 10), ("not_found", 20)])
    mark = ProviderMark.objects.create(provider="hunter", kind="out_of_credits", reason="429")

    page = admin_client.get(reverse("admin:providers_providercall_changelist"))
    assert page.status_code == 200
    assert b"Providers, last 24 hours" in page.content
    assert b"sandbox" in page.content

    response = admin_client.post(
        reverse("admin:providers_providermark_changelist"),
        {"action": "clear_marks", "_selected_action": [mark.pk]},
    )
    assert response.status_code == 302
    mark.refresh_from_db()
    assert mark.cleared_at is not None
    assert mark.cleared_by == "admin"
