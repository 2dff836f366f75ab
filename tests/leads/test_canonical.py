import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads import canonical

JOHN = "https://www.linkedin.com/in/john-doe"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.linkedin.com/in/john-doe", JOHN),
        ("linkedin.com/in/john-doe", JOHN),
        ("www.linkedin.com/in/john-doe", JOHN),
        ("http://linkedin.com/in/john-doe/", JOHN),
        ("https://uk.linkedin.com/in/john-doe", JOHN),
        ("https://de.linkedin.com/in/John-Doe/", JOHN),
        ("https://m.linkedin.com/in/john-doe", JOHN),
        ("https://www.linkedin.com/in/john-doe?trk=public_profile&original_referer=x", JOHN),
        ("https://www.linkedin.com/in/john-doe#experience", JOHN),
        ("  https://www.linkedin.com/in/john-doe/  ", JOHN),
        ("HTTPS://WWW.LINKEDIN.COM/IN/JOHN-DOE", JOHN),
        ("https://www.linkedin.com/in/john-doe/de", JOHN),
        ("//www.linkedin.com/in/john-doe", JOHN),
        (
            "https://www.linkedin.com/in/j%C3%B6rg-m%C3%BCller",
            "https://www.linkedin.com/in/jörg-müller",
        ),
        ("https://www.linkedin.com/in/Jörg-Müller/", "https://www.linkedin.com/in/jörg-müller"),
        (
            "https://www.linkedin.com/pub/john-doe/1a/2b/3c",
            "https://www.linkedin.com/in/john-doe-3c2b1a",
        ),
        ("linkedin.com/pub/jane-roe/0/12/345/", "https://www.linkedin.com/in/jane-roe-345120"),
        ("https://www.linkedin.com/company/acme", None),
        ("https://www.linkedin.com/feed/", None),
        ("https://www.linkedin.com/in/", None),
        ("https://notlinkedin.com/in/john-doe", None),
        ("https://linkedin.com.evil.io/in/john-doe", None),
        ("john doe", None),
        ("", None),
        (None, None),
    ],
)
def test_canonical_linkedin_url(raw, expected):
    assert canonical.linkedin_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane.Roe@Acme.COM", "jane.roe@acme.com"),
        ("  jane@acme.com\t", "jane@acme.com"),
        ("mailto:jane@acme.com", "jane@acme.com"),
        ("MAILTO:Jane@Acme.com?subject=hi", "jane@acme.com"),
        ("<jane@acme.com>", "jane@acme.com"),
        ("jane+tag@acme.co.uk", "jane+tag@acme.co.uk"),
        ("jane@", None),
        ("not an email", None),
        ("jane@@acme.com", None),
        ("", None),
    ],
)
def test_canonical_email(raw, expected):
    assert canonical.email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com", "acme.com"),
        ("https://www.Acme.com/about?x=1", "acme.com"),
        ("http://shop.acme.co.uk/", "shop.acme.co.uk"),
        ("www.acme.io", "acme.io"),
        ("jane@acme.com", "acme.com"),
        ("ACME.COM.", "acme.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("localhost", None),
        ("not a domain", None),
        ("", None),
    ],
)
def test_canonical_domain(raw, expected):
    assert canonical.domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (415) 555-0123", "+14155550123"),
        ("415.555.0123", "+14155550123"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("12", None),
        ("call me", None),
    ],
)
def test_canonical_phone(raw, expected):
    assert canonical.phone(raw, default_region="US") == expected


def test_person_identity_prefers_linkedin_then_email_then_name_and_domain():
    li = canonical.linkedin_url("linkedin.com/in/jane-roe")
    assert canonical.person_identity(linkedin=li, email_address="j@acme.com") == "li:jane-roe"
    assert canonical.person_identity(email_address="j@acme.com") == "em:j@acme.com"
    key = canonical.person_identity(
        first_name="José ", last_name="Núñez", company_domain="acme.com"
    )
    assert key == "nd:jose nunez@acme.com"
    assert key == canonical.person_identity(
        first_name="JOSE", last_name="nunez", company_domain="acme.com"
    )
    assert canonical.person_identity(first_name="Jane", company_domain="acme.com") is None


# Inputs near the forms `linkedin_url` and `name` answer without the general path (plain ASCII
# profile URLs, ASCII names with single spaces), and just outside them.
_PROFILE_URL_FORMS = [
    f"{scheme}{host}linkedin.com{path}"
    for scheme in ("", "https://", "http://", "HTTPS://", "ftp://", "//", " https://")
    for host in ("", "www.", "WWW.", "de.", "m.", "mobile.", "abcd.", "x.", "www.www.")
    for path in (
        "/in/john-doe", "/in/John_Doe9/", "/IN/john-doe", "/in/john-doe//", "/in/", "/in/-",
        "/in/john%20doe", "/in/jörg", "/in/john-doe?x=1", "/in/john-doe#a", "/in/a/de",
        "/in/john doe", "/in/john-doe/ ", ":443/in/john-doe", "./in/john-doe", "/pub/x/1/2/3",
        "/in/john\tdoe", "/company/acme", "/in/K-kelvin",
    )
]  # fmt: skip


@pytest.mark.parametrize("raw", _PROFILE_URL_FORMS)
def test_canonical_linkedin_url_shortcut_answers_as_the_url_parse(raw):
    assert canonical.linkedin_url(raw) == canonical._linkedin_url_parsed(raw)


@pytest.mark.parametrize(
    "raw",
    ["Ada", " Ada Lovelace ", "Ada  Lovelace", "Ada\tLovelace", "Ada\x1cLovelace", "Jose\u0301",
     "Ada\u00a0Lovelace", "Ada \n", "O'Brien-Smith", "  ", "A\x7fB", "Ada\u2003 Lovelace"],
)  # fmt: skip
def test_canonical_name_shortcut_answers_as_the_normalisation(raw):
    assert canonical.name(raw) == canonical._name_normalized(raw)


@pytest.mark.parametrize(
    "raw",
    ["acme.com", "www.acme.com", "acme.co.uk", "xn--acm-bma.com", "a-b.example", "ACME.com",
     "acme.com.", "acme.com\n", " acme.com", "acme", "-acme.com", "acme.c0m", "ac.me.io",
     "www.www.acme.com", "wwwacme.com", "a" * 64 + ".com", "x.y"],
)  # fmt: skip
def test_canonical_company_domain_shortcut_answers_as_domain(raw):
    assert canonical._company_domain(raw) == canonical.domain(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "https://www.linkedin.com/in/jane-roe_2",  # canonical: given back as it is
        "https://www.linkedin.com/in/Jane-Roe",  # upper case: not canonical yet
        "https://www.linkedin.com/in/jane%20roe",
        "https://www.linkedin.com/in/jane-roe/",
        "https://www.linkedin.com/in/jane.roe",
        "https://www.linkedin.com/in/",
        "https://www.linkedin.com/in/jane-roe\n",
        "https://www.linkedin.com/company/acme",
    ],
)
def test_canonical_linkedin_url_is_its_own_canonical_form(raw):
    once = canonical.linkedin_url(raw)
    # the canonical form of a canonical URL is that URL, whichever path gave it
    assert once is None or canonical.linkedin_url(once) == once
    assert canonical.linkedin_url(f" {raw} ") == once  # the parsing path agrees


@pytest.mark.parametrize(
    "value",
    [
        "jane@acme.com",
        "jane.roe+tag@mail.acme.co.uk",
        "jane..roe@acme.com",
        ".jane@acme.com",
        '"jane roe"@acme.com',
        "jane@localhost",
        "jane@[127.0.0.1]",
        "jane@[999.0.0.1]",
        "jane@acme",
        "jane@-acme.com",
        "jane@acmé.com",
        "jane@xn--acm-bma.com",
        "jane@acme.c0m",
        "jane@",
        "@acme.com",
        "a" * 310 + "@acme.com",
        "jane@acme.com@evil.com",
    ],
)
def test_canonical_email_validity_is_djangos(value):
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(value)
        valid = True
    except ValidationError:
        valid = False
    assert canonical._valid_email(value) is valid
    assert canonical._valid_email(value) is valid  # the remembered domain answers the same


@settings(max_examples=2000, deadline=None)
@given(st.from_regex(r"([a-z0-9][a-z0-9-]{0,70}\.){1,4}[a-z0-9-]{1,70}\.?", fullmatch=True))
def test_canonical_email_domain_shortcut_answers_as_django(domain_part):
    from django.core.validators import validate_email

    djangos = domain_part in validate_email.domain_allowlist or bool(
        validate_email.validate_domain_part(domain_part)
    )
    assert canonical._valid_email_domain(domain_part) is djangos
