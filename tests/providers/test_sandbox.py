from collections import Counter

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.providers import _sandbox_instances
from providers.adapters.sandbox import SandboxProvider
from providers.base import CompanyInput, EmailStatus, OutcomeKind, PersonInput
from providers.registry import build_provider, configured_sandboxes, is_sandbox, sandbox_check

PEOPLE = [PersonInput(first_name=f"Ann{i}", last_name="Lee", domain="acme.com") for i in range(400)]


def test_sandbox_is_deterministic_by_input():
    a, b = SandboxProvider(), SandboxProvider()
    assert [a.find_email(p) for p in PEOPLE[:50]] == [b.find_email(p) for p in PEOPLE[:50]]
    assert a.find_phone(PEOPLE[0]) == b.find_phone(PEOPLE[0])


def test_sandbox_answers_look_real():
    sandbox = SandboxProvider(config={"email_hit_rate": 1, "phone_hit_rate": 1})
    person = PersonInput(full_name="Jean-Luc Picard", company_name="Star Fleet")
    assert sandbox.find_email(person).value == "jeanluc.picard@starfleet.com"
    phone = sandbox.find_phone(person).value
    assert phone.startswith("+1")
    assert phone[1:].isdigit()
    assert len(phone) == 12


@pytest.mark.parametrize(
    ("first", "last", "company", "email"),
    [
        ("Frédéric", "Köhler", "Société Générale", "frederic.kohler@societegenerale.com"),
        ("Łukasz", "Søndergaard", "Straße AG", "lukasz.sondergaard@strasseag.com"),
        ("Zoë", "Ægidius", "Ørsted", "zoe.aegidius@orsted.com"),
        ("İlker", "Çelik", "Türk Telekom", "ilker.celik@turktelekom.com"),
    ],
)
def test_sandbox_transliterates_accented_names_as_real_providers_do(first, last, company, email):
    sandbox = SandboxProvider(config={"email_hit_rate": 1})

    found = sandbox.find_email(PersonInput(first_name=first, last_name=last, company_name=company))

    assert found.value == email


def test_sandbox_hit_rate_per_data_point():
    sandbox = SandboxProvider(config={"email_hit_rate": 0.3, "phone_hit_rate": 0.9})
    emails = sum(sandbox.find_email(p).kind == OutcomeKind.FOUND for p in PEOPLE)
    phones = sum(sandbox.find_phone(p).kind == OutcomeKind.FOUND for p in PEOPLE)
    assert 0.2 * 400 < emails < 0.4 * 400
    assert 0.8 * 400 < phones <= 400


def test_sandbox_instances_find_different_people():
    a = SandboxProvider(name="sandbox_a", config={"email_hit_rate": 0.5})
    b = SandboxProvider(name="sandbox_b", config={"email_hit_rate": 0.5})
    hits_a = {p for p in PEOPLE if a.find_email(p).kind == OutcomeKind.FOUND}
    hits_b = {p for p in PEOPLE if b.find_email(p).kind == OutcomeKind.FOUND}
    assert hits_a != hits_b


def test_sandbox_faults_are_deterministic_per_attempt():
    config = {"fault_429_rate": 0.2, "fault_5xx_rate": 0.2, "fault_timeout_rate": 0.1,
              "fault_malformed_rate": 0.1, "retry_after_s": 3}  # fmt: skip
    first = [SandboxProvider(config=config).find_email(p) for p in PEOPLE]
    again = [SandboxProvider(config=config).find_email(p) for p in PEOPLE]
    assert first == again
    statuses = Counter(o.provider_status for o in first if o.kind != OutcomeKind.FOUND)
    assert {"429", "503", "timeout", "malformed_body"} <= set(statuses)
    assert all(o.retry_after == 3 for o in first if o.kind == OutcomeKind.RATE_LIMITED)
    # a retry is a new attempt: it can succeed where the first one failed
    sandbox = SandboxProvider(config=config | {"email_hit_rate": 1})
    outcomes = [sandbox.find_email(PEOPLE[0]).kind for _ in range(20)]
    assert OutcomeKind.FOUND in outcomes


def test_sandbox_verifier_mix():
    sandbox = SandboxProvider(config={"verify_mix": (0.5, 0.2, 0.2, 0.1)})
    verdicts = Counter(sandbox.verify_email(f"user{i}@acme.com").verdict for i in range(500))
    assert set(verdicts) == set(EmailStatus)
    assert 200 < verdicts[EmailStatus.VALID] < 300
    assert sandbox.verify_email("x@acme.com") == sandbox.verify_email("x@acme.com")


def test_sandbox_company():
    sandbox = SandboxProvider(config={"company_hit_rate": 1})
    company = sandbox.enrich_company(CompanyInput(domain="acme.com")).value
    assert company.domain == "acme.com"
    assert company.employee_count > 0
    assert sandbox.enrich_company(CompanyInput()).kind == OutcomeKind.NOT_FOUND


def test_sandbox_instances_from_environment(monkeypatch):
    monkeypatch.setenv("SLUICE_SANDBOX_LATENCY_MS", "100")
    monkeypatch.setenv("SLUICE_SANDBOX_A_EMAIL_HIT_RATE", "0.25")
    monkeypatch.setenv("SLUICE_SANDBOX_B_FAULT_429_RATE", "0.1")
    monkeypatch.setenv("SLUICE_SANDBOX_VERIFY_MIX", "1,0,0,0")
    assert _sandbox_instances() == {
        "sandbox": {"latency_ms": 100.0, "verify_mix": (1.0, 0.0, 0.0, 0.0)},
        "sandbox_a": {"email_hit_rate": 0.25},
        "sandbox_b": {"fault_429_rate": 0.1},
    }


def test_sandbox_instance_inherits_plain_sandbox_knobs(settings):
    settings.SLUICE_SANDBOX_INSTANCES = {
        "sandbox": {"latency_ms": 0, "email_hit_rate": 0.1},
        "sandbox_b": {"phone_hit_rate": 0.7},
    }
    provider = build_provider("sandbox_b")
    assert provider.name == "sandbox_b"
    assert provider.config["email_hit_rate"] == 0.1
    assert provider.config["phone_hit_rate"] == 0.7


PROVIDER_NAMES = ["hunter", "prospeo", "pdl", "apollo", "zerobounce", "neverbounce",
                  "dropcontact", "sandbox", "sandbox_x"]  # fmt: skip


@pytest.mark.parametrize("name", PROVIDER_NAMES)
def test_registry_builds_every_provider(name):
    assert build_provider(name).name == name


def test_registry_is_sandbox_names_the_sandbox_and_its_instances():
    assert [is_sandbox(n) for n in ("sandbox", "sandbox_a", "sandboxes", "hunter")] == [
        True, True, False, False,
    ]  # fmt: skip


def test_registry_sandbox_check_refuses_the_sandbox_where_it_is_not_allowed(settings):
    # given production's rule (no sandbox) and a waterfall that falls back on it
    settings.SLUICE_SANDBOX_ALLOWED = False
    settings.SLUICE_WATERFALL_EMAIL = ["hunter", "sandbox"]
    settings.SLUICE_WATERFALL_PHONE = ["pdl"]
    settings.SLUICE_WATERFALL_COMPANY = ["pdl"]
    settings.SLUICE_VERIFIER = "sandbox_v"

    # then the check names every sandbox configured
    assert configured_sandboxes() == ["sandbox", "sandbox_v"]
    with pytest.raises(ImproperlyConfigured, match=r"sandbox \(sandbox, sandbox_v\)"):
        sandbox_check()
    # and passes once it is allowed, or once no waterfall names it
    settings.SLUICE_SANDBOX_ALLOWED = True
    sandbox_check()
    settings.SLUICE_SANDBOX_ALLOWED = False
    settings.SLUICE_WATERFALL_EMAIL = ["hunter"]
    settings.SLUICE_VERIFIER = "zerobounce"
    sandbox_check()


def test_sandbox_waits_and_counts_attempts_only_when_told_to():
    # a plain sandbox never waits and remembers nobody (a worker looks up millions of people)
    plain = SandboxProvider()
    for person in PEOPLE[:20]:
        plain.find_email(person)
    assert not plain.waits
    assert not plain._attempts
    # latency, a rate limit or injected faults make it wait
    assert SandboxProvider(config={"latency_ms": 5}).waits
    assert SandboxProvider(config={"rate_limit": "10/s"}).waits
    assert SandboxProvider(config={"fault_5xx_rate": 0.1}).waits


def test_sandbox_answers_are_the_ones_it_always_gave():
    # Pinned answers (computed before the sandbox read its knobs once and hashed with fewer
    # steps): the result cache and every benchmark hold answers of this function.
    sandbox = SandboxProvider(
        name="sandbox_golden",
        config={
            "email_hit_rate": 0.9,
            "finder_invalid_rate": 0.2,
            "verify_mix": (0.5, 0.2, 0.2, 0.1),
            "miss_cost": 0.5,
        },
    )
    people = [
        PersonInput(first_name="Ann", last_name="Lee", domain="Acme.com"),
        PersonInput(full_name="Frédéric  Köhler", company_name="Société Générale"),
        PersonInput(
            first_name="Bo",
            last_name="Chen",
            company_name="Init Co",
            linkedin_url="https://www.linkedin.com/in/bo-chen",
        ),
        PersonInput(first_name="Zoë", last_name="Day", domain="zd.io", email="zoe@zd.io"),
    ]

    emails = [sandbox.find_email(p) for p in people]
    phones = [sandbox.find_phone(p) for p in people]
    verdicts = [sandbox.verify_email(f"person{i}@example.com").verdict for i in range(40)]

    assert [(e.kind, e.value, e.confidence, e.provider_status, e.cost) for e in emails] == [
        (OutcomeKind.FOUND, "ann.lee@acme.com", 62, "found", 1.0),
        (OutcomeKind.NOT_FOUND, None, None, "invalid_by_provider:invalid", 0.0),
        (OutcomeKind.FOUND, "bo.chen@initco.com", 77, "found", 1.0),
        (OutcomeKind.FOUND, "zoe.day@zd.io", 93, "found", 1.0),
    ]
    assert [(p.kind, p.value, p.confidence) for p in phones] == [
        (OutcomeKind.FOUND, "+16450645856", 76),
        (OutcomeKind.NOT_FOUND, None, None),
        (OutcomeKind.NOT_FOUND, None, None),
        (OutcomeKind.NOT_FOUND, None, None),
    ]
    assert "".join(str(v)[0] for v in verdicts) == "iirvvviivvvivvvuuvurvvuivvriiuivurvrvuiv"


@pytest.mark.parametrize(
    ("name", "slug"),
    [("O'Neil-Smith", "oneilsmith"), ("Mary Ann", "maryann"), ("ACME 2.0", "acme20"),
     ("Åsa", "asa"), ("ǅemal", "dzemal")],
)  # fmt: skip
def test_sandbox_slug_of_ascii_and_accented_names(name, slug):
    from providers.adapters.sandbox import _slug

    assert _slug(name) == slug


def test_sandbox_with_a_malformed_verify_mix_fails_each_verification_not_its_construction():
    sandbox = SandboxProvider(config={"verify_mix": (1.0, 0.0, 0.0)})

    with pytest.raises(ValueError, match="shorter"):
        sandbox.verify_email("jane@acme.com")  # the engine records an adapter error
