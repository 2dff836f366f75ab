"""The suppression list: who must never be enriched, exported or returned.

An entry is a keyed hash (HMAC-SHA256 with `SLUICE_SUPPRESSION_HASH_KEY`) of a kind and a
canonical value (leads.canonical), so the table holds no personal data and survives the erasure
of the person it protects. A workspace's entries apply to it; operator-wide entries (no
workspace) to every workspace. A person matches when any of their email, the domain of that
email or of their company, LinkedIn profile, phone or canonical identity is on the list.

`Lead.suppressed_at` caches the match for reads (search, list pages, exports): it is set when an
entry is added (the value is known then, so matching leads are found by an indexed lookup) and
when a lead is written that matches (import, enrichment), and recomputed when entries go.
"""

import functools
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Workspace
from leads import canonical
from leads.models import Lead, Suppression

Kind = Suppression.Kind
MAX_ENTRIES_PER_CALL = 10_000
_DOMAIN_BATCH = 200


def digest(kind: str, value: str) -> str:
    """The stored form of a canonical value: no one without the key can test a value
    against the list, and the same value of two kinds never collides."""
    key = settings.SLUICE_SUPPRESSION_HASH_KEY.encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def canonical_value(kind: str, raw: str) -> str | None:
    """The canonical form an entry of this kind is hashed from; None when `raw` is not one."""
    if kind == Kind.EMAIL:
        return canonical.email(raw)
    if kind == Kind.DOMAIN:
        return canonical.domain(raw)
    if kind == Kind.LINKEDIN_URL:
        return canonical.linkedin_url(raw)
    if kind == Kind.PHONE:
        return canonical.phone(raw)
    if kind == Kind.PERSON:
        return raw or None  # already an identity key (leads.canonical.person_identify)
    return None


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    value: str  # canonical

    @property
    def digest(self) -> str:
        return digest(self.kind, self.value)


def person_entries(
    *,
    email: str | None = None,
    linkedin_url: str | None = None,
    phone: str | None = None,
    company_domain: str | None = None,
    identity_key: str | None = None,
) -> list[Entry]:
    """Every entry that would match a person with these (canonical) fields."""
    entries = []
    if email:
        entries.append(Entry(Kind.EMAIL, email))
        email_domain = email.rpartition("@")[2]
        if email_domain:
            entries.append(Entry(Kind.DOMAIN, email_domain))
    if company_domain:
        entries.append(Entry(Kind.DOMAIN, company_domain))
    if linkedin_url:
        entries.append(Entry(Kind.LINKEDIN_URL, linkedin_url))
    if phone:
        entries.append(Entry(Kind.PHONE, phone))
    if identity_key:
        entries.append(Entry(Kind.PERSON, identity_key))
    return entries


class _Person(Protocol):
    email: str | None
    linkedin_url: str | None
    phone: str | None
    domain: str
    identity_key: str


def lead_entries(lead: _Person) -> list[Entry]:
    """A stored lead's fields are canonical already (the importer, the person API and the
    provider adapters write them so), up to an email's case: re-parsing every lead of every
    chunk with the full canonicalisers would cost more than the rest of the check."""
    return person_entries(
        email=(lead.email or "").strip().lower() or None,
        linkedin_url=lead.linkedin_url or None,
        phone=lead.phone or None,
        company_domain=(lead.domain or "").strip().lower().removeprefix("www.") or None,
        identity_key=lead.identity_key,
    )


def lead_person_entries(lead: Lead) -> list[Entry]:
    """The entries that suppress this person (not their company's whole domain)."""
    return [entry for entry in lead_entries(lead) if entry.kind != Kind.DOMAIN]


def _scope_q(workspace_id: object) -> Q:
    scope = Q(workspace__isnull=True)
    if workspace_id:
        scope |= Q(workspace_id=workspace_id)
    return scope


def any_listed(workspace_id: object) -> bool:
    """Whether any entry applies at all: most workspaces have none, and then a chunk's check
    costs this one indexed query instead of hashing every identifier of every lead. Asked
    twice a chunk, so its statement (_scope_q's, as `.exists()` would send it) is written once
    per process: the ORM's building of it cost more than the query."""
    field = Suppression._meta.get_field("workspace")
    workspace = field.get_db_prep_value(workspace_id, connection) if workspace_id else None
    with connection.cursor() as cursor:
        cursor.execute(_any_listed_sql(), [workspace])
        return cursor.fetchone() is not None


@functools.cache
def _any_listed_sql() -> str:
    quote = connection.ops.quote_name
    workspace = quote(Suppression._meta.get_field("workspace").column)
    return (
        f"SELECT 1 FROM {quote(Suppression._meta.db_table)} "  # noqa: S608 - names from the model
        f"WHERE {workspace} IS NULL OR {workspace} = %s LIMIT 1"
    )


def _listed(workspace_id: object, digests: Iterable[str]) -> set[str]:
    """The digests among these that the workspace's list or the operator's holds."""
    wanted = list(set(digests))
    if not wanted:
        return set()
    return set(
        Suppression.objects.filter(_scope_q(workspace_id), digest__in=wanted).values_list(
            "digest", flat=True
        )
    )


def leads_suppressed(*, workspace_id: object, leads: Iterable[Lead]) -> set[Any]:
    """Ids of the leads the list covers, in one query (two when the list is not empty)."""
    if not any_listed(workspace_id):
        return set()
    by_lead = {lead.pk: {entry.digest for entry in lead_entries(lead)} for lead in leads}
    listed = _listed(workspace_id, set().union(*by_lead.values()) if by_lead else ())
    return {lead_id for lead_id, digests in by_lead.items() if digests & listed}


def identities_suppressed(*, workspace_id: object, people: Iterable[_Person]) -> set[str]:
    """Identity keys of the people (leads, or import records not yet written) the list
    covers, in one query (two when the list is not empty)."""
    if not any_listed(workspace_id):
        return set()
    by_key = {p.identity_key: {entry.digest for entry in lead_entries(p)} for p in people}
    listed = _listed(workspace_id, set().union(*by_key.values()) if by_key else ())
    return {key for key, digests in by_key.items() if digests & listed}


def entries_suppressed(*, workspace_id: object, entries: Iterable[Entry]) -> set[Entry]:
    entries = list(entries)
    if not entries or not any_listed(workspace_id):
        return set()
    listed = _listed(workspace_id, (e.digest for e in entries))
    return {entry for entry in entries if entry.digest in listed}


def _matching_leads(scope: QuerySet[Lead], entries: list[Entry]) -> QuerySet[Lead]:
    """Leads matching these entries, found by value: only possible while the values are at
    hand, i.e. when the entries are added. The identity and LinkedIn are indexed; an email or
    a phone reads the scope's leads (no index on what the enrichment writes: leads.models), and
    so does a domain, which also matches the emails at it."""
    by_kind: dict[str, list[str]] = {}
    for entry in entries:
        by_kind.setdefault(entry.kind, []).append(entry.value)
    match = Q(pk__in=[])
    if by_kind.get(Kind.EMAIL):
        match |= Q(email__in=by_kind[Kind.EMAIL])
    if by_kind.get(Kind.LINKEDIN_URL):
        match |= Q(linkedin_url__in=by_kind[Kind.LINKEDIN_URL])
    if by_kind.get(Kind.PHONE):
        match |= Q(phone__in=by_kind[Kind.PHONE])
    if by_kind.get(Kind.PERSON):
        match |= Q(identity_key__in=by_kind[Kind.PERSON])
    domains = by_kind.get(Kind.DOMAIN, [])
    if domains:
        match |= Q(domain__in=domains)
        for start in range(0, len(domains), _DOMAIN_BATCH):
            for value in domains[start : start + _DOMAIN_BATCH]:
                match |= Q(email__iendswith=f"@{value}")
    return scope.filter(match)


def _scope(workspace: Workspace | None) -> QuerySet[Lead]:
    return Lead.objects.filter(workspace=workspace) if workspace else Lead.objects.all()


def suppressions_add(
    *, workspace: Workspace | None, entries: list[Entry], source: str = Suppression.Source.MANUAL
) -> int:
    """Adds entries (already there: left as they are) and marks the leads they cover. Returns
    how many entries are new. `workspace` None: the operator-wide list."""
    unique = list(dict.fromkeys(entries))
    with transaction.atomic():
        listed = set(
            Suppression.objects.filter(
                workspace=workspace, digest__in=[e.digest for e in unique]
            ).values_list("digest", flat=True)
        )
        new = [e for e in unique if e.digest not in listed]
        # A concurrent add of the same entry wins quietly (the unique constraints).
        Suppression.objects.bulk_create(
            [
                Suppression(workspace=workspace, kind=e.kind, digest=e.digest, source=source)
                for e in new
            ],
            ignore_conflicts=True,
        )
        _matching_leads(_scope(workspace), unique).filter(suppressed_at__isnull=True).update(
            suppressed_at=timezone.now()
        )
    return len(new)


def suppressions_remove(
    *, workspace: Workspace | None, entries: Sequence[Entry] = (), ids: Iterable[int] = ()
) -> int:
    """Removes entries of this list (by value or id) and lifts the mark of the leads no entry
    covers any more. Returns how many entries went."""
    digests = [e.digest for e in entries]
    with transaction.atomic():
        rows = Suppression.objects.filter(workspace=workspace).filter(
            Q(digest__in=digests) | Q(pk__in=list(ids))
        )
        removed, _ = rows.delete()
        if removed:
            leads_refresh_suppressed(leads=_scope(workspace).filter(suppressed_at__isnull=False))
    return removed


def leads_refresh_suppressed(*, leads: QuerySet[Lead] | Iterable[Lead]) -> int:
    """Recomputes `suppressed_at` of these leads from the list; returns how many are covered."""
    covered_total = 0
    by_workspace: dict[object, list[Lead]] = {}
    for lead in leads:
        by_workspace.setdefault(lead.workspace_id, []).append(lead)
    now = timezone.now()
    for workspace_id, members in by_workspace.items():
        covered = leads_suppressed(workspace_id=workspace_id, leads=members)
        covered_total += len(covered)
        ids = [lead.pk for lead in members]
        Lead.objects.filter(pk__in=ids).exclude(pk__in=covered).update(suppressed_at=None)
        Lead.objects.filter(pk__in=covered, suppressed_at__isnull=True).update(suppressed_at=now)
    return covered_total


def suppressions_for(workspace: Workspace) -> QuerySet[Suppression]:
    """The entries that apply to a workspace: its own and the operator's, newest first."""
    return Suppression.objects.filter(Q(workspace=workspace) | Q(workspace__isnull=True)).order_by(
        "-id"
    )
