"""Erasure on request (GDPR Art. 17): the person leaves every table of the workspace (or, from
the operator, of every workspace), the suppression list keeps them from being sourced again, and
a receipt records what went. See docs/privacy.md for what is kept and why.

Everything in the database goes in one transaction; the export files that hold the person are
deleted after it commits (a file cannot be rolled back, and a failed transaction must not leave
exports missing for a person still there)."""

import contextlib
import csv
import io
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Q, QuerySet, TextField
from django.db.models.functions import Cast

from accounts.models import Workspace
from common.exceptions import NotFound, ValidationFailed
from common.models import IdempotencyRecord
from credits.models import Quote
from enrichment.models import TERMINAL_ITEM_STATUSES, WebhookDelivery, Workflow, WorkflowItem
from enrichment.services.lifecycle import workflow_settle_if_done
from leads import canonical, suppression
from leads.models import Cohort, Lead, ListMembership, Suppression
from privacy.models import ErasureReceipt
from providers.engine import cache_key
from providers.models import ResultCacheEntry

logger = logging.getLogger(__name__)

SUBJECT_KINDS = ("email", "linkedin_url", "phone", "lead_id")


@dataclass
class _Person:
    """Everything that identifies the person across the scope, gathered from the request and
    from the leads it matched."""

    leads: list[Lead] = field(default_factory=list)
    emails: set[str] = field(default_factory=set)
    linkedin_urls: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    identities: set[str] = field(default_factory=set)

    @property
    def values(self) -> list[str]:
        """The personal values to scrub from free-form columns (JSON, text)."""
        return sorted(self.emails | self.linkedin_urls | self.phones)

    def add_lead(self, lead: Lead) -> None:
        self.leads.append(lead)
        for value, bucket in (
            (canonical.email(lead.email), self.emails),
            (canonical.linkedin_url(lead.linkedin_url), self.linkedin_urls),
            (canonical.phone(lead.phone), self.phones),
            (lead.identity_key, self.identities),
        ):
            if value:
                bucket.add(value)

    def suppression_entries(self) -> list[suppression.Entry]:
        kind = suppression.Kind
        return [
            *(suppression.Entry(kind.EMAIL, v) for v in sorted(self.emails)),
            *(suppression.Entry(kind.LINKEDIN_URL, v) for v in sorted(self.linkedin_urls)),
            *(suppression.Entry(kind.PHONE, v) for v in sorted(self.phones)),
            *(suppression.Entry(kind.PERSON, v) for v in sorted(self.identities)),
        ]


def _subject(kind: str, raw: str) -> tuple[str, str]:
    """The canonical value of the one identifier a request names."""
    if kind == "lead_id":
        try:
            return kind, str(uuid.UUID(str(raw)))
        except ValueError:
            raise ValidationFailed("lead_id is not a lead id.", details={"lead_id": raw}) from None
    value = suppression.canonical_value(kind, raw)
    if value is None:
        raise ValidationFailed(f"{kind} is not a valid {kind.replace('_', ' ')}.")
    return kind, value


def _matching(scope: QuerySet[Lead], person: _Person) -> QuerySet[Lead]:
    # `email` and `phone` have no index: the enrichment writes them, and an index on either
    # would make every enriched lead a new entry in each index of the table (leads.models). A
    # match by either reads the scope's leads (~75 ms per 100,000 here, against ~580 ms for the
    # cache entries' scan of the same erasure: docs/benchmarks.md, "Lead writes").
    match = Q(pk__in=[])
    if person.emails:
        match |= Q(email__in=person.emails)
    if person.linkedin_urls:
        match |= Q(linkedin_url__in=person.linkedin_urls)
    if person.phones:
        match |= Q(phone__in=person.phones)
    if person.identities:
        match |= Q(identity_key__in=person.identities)
    return scope.filter(match)


def _gather(scope: QuerySet[Lead], kind: str, value: str) -> _Person:
    """The leads the identifier names, then once more every lead sharing any identifier of
    theirs (the same person imported twice, with an email in one list and a phone in another)."""
    person = _Person()
    if kind == "lead_id":
        first = list(scope.filter(pk=value))
    else:
        # The identifier itself is erased even where no lead holds it (cache, exports, payloads).
        {"email": person.emails, "phone": person.phones, "linkedin_url": person.linkedin_urls}[
            kind
        ].add(value)
        first = list(_matching(scope, person))
    for lead in first:
        person.add_lead(lead)
    if person.leads:
        seen = {lead.pk for lead in person.leads}
        for lead in _matching(scope, person).exclude(pk__in=seen):
            person.add_lead(lead)
    return person


def _containing(queryset: QuerySet, column: str, values: list[str]) -> QuerySet:
    """Rows whose column, read as text, contains any of the values."""
    if not values:
        return queryset.none()
    text = Cast(column, output_field=TextField())
    return queryset.annotate(_as_text=text).filter(
        reduce(or_, (Q(_as_text__icontains=value) for value in values))
    )


def person_erase(
    *, workspace: Workspace | None, kind: str, value: str, origin: str
) -> tuple[ErasureReceipt, bool]:
    """Erases the person one identifier names from `workspace` (None: every workspace, the
    operator's erasure) and suppresses them there. Idempotent: erasing someone already gone
    removes nothing and answers the earlier receipt. Returns (receipt, whether it is new)."""
    if kind not in SUBJECT_KINDS:
        raise ValidationFailed(f"Name the person by one of {', '.join(SUBJECT_KINDS)}.")
    kind, value = _subject(kind, value)
    subject_digest = suppression.digest(f"erasure:{kind}", value)
    scope = Lead.objects.filter(workspace=workspace) if workspace else Lead.objects.all()
    with transaction.atomic():
        person = _gather(scope, kind, value)
        if not person.leads and kind == "lead_id":
            earlier = _earlier_receipt(workspace, subject_digest)
            if earlier is None:
                raise NotFound("No lead with this id.")
            return earlier, False
        removed, unfinished_runs = _erase_rows(workspace, person)
    for workflow_id in unfinished_runs:
        workflow_settle_if_done(workflow_id=workflow_id)  # the erased item may have been its last
    removed["export_files"] = _erase_export_files(workspace, person.values)
    if not any(count for name, count in removed.items() if name != "suppressions_added"):
        earlier = _earlier_receipt(workspace, subject_digest)
        if earlier is not None:
            return earlier, False
    receipt = ErasureReceipt.objects.create(
        workspace=workspace,
        origin=origin,
        subject_kind=kind,
        subject_digest=subject_digest,
        removed=removed,
    )
    logger.info("erasure %s: %s", receipt.pk, removed)
    return receipt, True


def _earlier_receipt(workspace: Workspace | None, subject_digest: str) -> ErasureReceipt | None:
    return (
        ErasureReceipt.objects.filter(workspace=workspace, subject_digest=subject_digest)
        .order_by("-created_at")
        .first()
    )


def _erase_rows(workspace: Workspace | None, person: _Person) -> tuple[dict[str, int], list[str]]:
    """Returns the counts removed and the runs that stopped waiting on an erased item."""
    lead_ids = [lead.pk for lead in person.leads]
    workspace_ids = {str(lead.workspace_id) for lead in person.leads}
    if workspace is not None:
        workspace_ids.add(str(workspace.pk))
    values = person.values
    removed: dict[str, int] = {}

    # The list entry first: it outlives everything below and stops any later run.
    removed["suppressions_added"] = suppression.suppressions_add(
        workspace=workspace,
        entries=person.suppression_entries(),
        source=Suppression.Source.ERASURE,
    )
    removed["list_memberships"] = ListMembership.objects.filter(lead_id__in=lead_ids).count()
    removed["workflow_items"] = WorkflowItem.objects.filter(lead_id__in=lead_ids).count()
    # A run still waiting on one of these items would wait for ever: it stops counting it (a
    # chunk that claimed it finds it gone and records nothing for it).
    unfinished = Counter(
        WorkflowItem.objects.filter(lead_id__in=lead_ids)
        .exclude(status__in=TERMINAL_ITEM_STATUSES)
        .values_list("workflow_id", flat=True)
    )
    for workflow_id, count in unfinished.items():
        Workflow.objects.filter(pk=workflow_id).update(total=F("total") - count)
    # Deleting the leads deletes their memberships and workflow items (ON DELETE CASCADE).
    Lead.objects.filter(pk__in=lead_ids).delete()
    removed["leads"] = len(lead_ids)
    removed["admin_log_entries"], _ = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Lead),
        object_id__in=[str(pk) for pk in lead_ids],
    ).delete()

    # The provider cache: answers holding a value, and every entry keyed on the person.
    keys = {
        cache_key(workspace_id=ws, identity=identity)
        for ws in workspace_ids
        for identity in [*person.identities, *(f"email:{e}" for e in person.emails)]
    }
    cache = ResultCacheEntry.objects.filter(identity_key__in=keys) | _containing(
        ResultCacheEntry.objects.all(), "value", values
    )
    removed["provider_cache_entries"], _ = ResultCacheEntry.objects.filter(
        pk__in=cache.values("pk")
    ).delete()

    in_scope = {"workspace": workspace} if workspace else {}
    # Stored answers of person-enrichment calls, webhook events and quotes that carry a value.
    idempotency = IdempotencyRecord.objects.filter(**in_scope)
    removed["idempotency_records"], _ = _containing(idempotency, "response_body", values).delete()
    deliveries = WebhookDelivery.objects.filter(
        **({"endpoint__workspace": workspace} if workspace else {})
    )
    removed["webhook_deliveries"], _ = _containing(deliveries, "payload", values).delete()
    removed["quotes_scrubbed"] = _containing(
        Quote.objects.filter(**in_scope), "params", values
    ).update(params={"erased": True})
    # Other runs' attempts that carried a value (a cached answer read for a duplicate lead).
    removed["workflow_attempts_scrubbed"] = _containing(
        WorkflowItem.objects.filter(**({"workflow__workspace": workspace} if workspace else {})),
        "attempts",
        values,
    ).update(attempts=[])
    removed["references_dropped"] = _drop_lead_ids(workspace, lead_ids)
    return removed, list(unfinished)


def _drop_lead_ids(workspace: Workspace | None, lead_ids: list) -> int:
    """Cohorts and by-task runs name leads by id: the erased ids leave them."""
    gone = {str(pk) for pk in lead_ids}
    if not gone:
        return 0
    changed = 0
    in_scope = {"workspace": workspace} if workspace else {}
    for model in (Cohort, Workflow):
        naming = _containing(model.objects.filter(**in_scope), "entity_ids", sorted(gone))
        for row in naming.iterator():
            ids = row.entity_ids or []
            kept = [i for i in ids if str(i) not in gone]
            if len(kept) != len(ids):
                model.objects.filter(pk=row.pk).update(entity_ids=kept)
                changed += 1
    return changed


def _erase_export_files(workspace: Workspace | None, values: list[str]) -> int:
    """Deletes the CSV exports that hold the person; their links then answer 404."""
    root = Path(settings.EXPORT_DIR)
    folder = root / str(workspace.pk) if workspace else root
    if not values or not folder.exists():
        return 0
    needles = [v.lower().encode() for v in values]
    deleted = 0
    for path in folder.rglob("*.csv"):
        try:
            content = path.read_bytes().lower()
        except OSError:
            continue
        if any(needle in content for needle in needles):
            with contextlib.suppress(FileNotFoundError):  # a concurrent erasure took it
                path.unlink()
                deleted += 1
    return deleted


# --- The suppression list through the API ------------------------------------------------------


@dataclass(frozen=True)
class SuppressionChange:
    added: int
    already_listed: int


def entries_parse(raw_entries: list[dict[str, Any]]) -> list[suppression.Entry]:
    """Canonical entries from `{"kind", "value"}` pairs (a person's identity from `person`
    fields); any invalid one refuses the whole request (nothing half-added), naming every bad
    index."""
    entries, problems = [], {}
    for index, raw in enumerate(raw_entries):
        if raw["kind"] == suppression.Kind.PERSON:
            value = canonical.person_identify(**raw["person"]).key
        else:
            value = suppression.canonical_value(raw["kind"], raw["value"])
        if value is None:
            problems[str(index)] = [f"Not a valid {raw['kind'].replace('_', ' ')}."]
        else:
            entries.append(suppression.Entry(raw["kind"], value))
    if problems:
        raise ValidationFailed("Some entries are not valid.", details={"entries": problems})
    return entries


def suppressions_add(
    *, workspace: Workspace, entries: list[suppression.Entry], lead_ids: Sequence = ()
) -> SuppressionChange:
    """Adds the entries, and every identifier of the named leads, to the workspace's list."""
    wanted = list(entries)
    leads = Lead.objects.filter(workspace=workspace, pk__in=list(lead_ids))
    found = {str(lead.pk) for lead in leads}
    missing = sorted({str(pk) for pk in lead_ids} - found)
    if missing:
        raise NotFound("Some leads do not exist.", details={"lead_ids": missing})
    for lead in leads:
        wanted.extend(suppression.lead_person_entries(lead))
    wanted = list(dict.fromkeys(wanted))
    added = suppression.suppressions_add(workspace=workspace, entries=wanted)
    return SuppressionChange(added=added, already_listed=len(wanted) - added)


CSV_COLUMNS = ("email", "domain", "linkedin_url", "phone")


def entries_from_csv(text: str, *, max_rows: int) -> list[dict[str, str]]:
    """Raw entries from a CSV: either `kind,value` columns, or one column per kind (`email`,
    `domain`, `linkedin_url`, `phone`), each non-empty cell an entry."""
    reader = csv.DictReader(io.StringIO(text))
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    reader.fieldnames = header
    by_pair = "kind" in header and "value" in header
    if not by_pair and not set(header) & set(CSV_COLUMNS):
        raise ValidationFailed(
            "The CSV needs a header: kind,value or any of " + ", ".join(CSV_COLUMNS) + "."
        )
    raw: list[dict[str, str]] = []
    for row in reader:
        if by_pair:
            pairs = [((row.get("kind") or "").strip().lower(), row.get("value") or "")]
        else:
            pairs = [(kind, row.get(kind) or "") for kind in CSV_COLUMNS]
        for kind, value in pairs:
            if not value.strip():
                continue
            if kind not in suppression.Kind.values or kind == suppression.Kind.PERSON:
                raise ValidationFailed(f"Unknown kind {kind!r} in the CSV.")
            raw.append({"kind": kind, "value": value})
        if len(raw) > max_rows:
            raise ValidationFailed(f"At most {max_rows} entries per call.")
    return raw
