import pytest

from common.exceptions import ValidationFailed
from credits import prices


def test_prices_table_matches_spec():
    assert prices.PRICE_PER_LEAD == {"partial": 1, "phone_only": 10, "full": 11}
    assert prices.company_cost() == 1
    assert prices.reserve_cost(enrichment_type="full", leads=3) == 33
    assert prices.charge_for_found(emails_found=2, phones_found=1) == 12


@pytest.mark.parametrize("raw", ["phone-only", "phone_only", " Phone-Only "])
def test_normalize_enrichment_type_accepts_phone_only_alias(raw):
    assert prices.normalize_enrichment_type(raw) == "phone_only"
    assert prices.price_per_lead(raw) == 10


def test_normalize_enrichment_type_rejects_unknown_on_the_named_field():
    with pytest.raises(ValidationFailed) as caught:
        prices.normalize_enrichment_type("everything", field="scope")
    assert "scope" in caught.value.details


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (["Email", "Phone"], "full"),
        (["Phone"], "phone_only"),
        (["Phone", "LinkedIn"], "phone_only"),
        (["Email"], "partial"),
        (["LinkedIn"], "partial"),
    ],
)
def test_enrichment_type_from_data_points(points, expected):
    assert prices.enrichment_type_from_data_points(points) == expected


def test_resolve_enrichment_type_precedence():
    assert prices.resolve_enrichment_type() == "partial"
    assert prices.resolve_enrichment_type(include_phone=True) == "phone_only"
    assert prices.resolve_enrichment_type(data_points=["Email", "Phone"], include_phone=True) == (
        "full"
    )
    assert prices.resolve_enrichment_type(scope="phone-only", data_points=["Email"]) == (
        "phone_only"
    )
    assert prices.resolve_enrichment_type(enrichment_type="partial", scope="full") == "partial"
