"""Between workflow items and the provider waterfall: what to look up for a lead, the most it
can cost, and how an answer lands on the item (and is charged) and on the lead."""

import functools
import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.db.models import Q
from django.utils import timezone

from common.bulk import JSONText
from credits import prices
from credits.prices import EnrichmentType
from enrichment.models import ItemStatus, Workflow, WorkflowItem
from enrichment.selectors import workflow_waterfall_version
from leads import canonical, freshness, suppression
from leads.models import PROVENANCE_FIELDS, Lead
from leads.selectors import lead_holds_q
from providers import engine
from providers.base import Attempt, DataPoint, EmailStatus, PersonInput, WaterfallResult
from providers.configuration import ResolvedWaterfall, operator_default
from providers.selectors import waterfall_resolve

REQUESTED: dict[str, frozenset[DataPoint]] = {
    EnrichmentType.PARTIAL: frozenset({DataPoint.EMAIL}),
    EnrichmentType.PHONE_ONLY: frozenset({DataPoint.PHONE}),
    EnrichmentType.FULL: frozenset({DataPoint.EMAIL, DataPoint.PHONE}),
}
LEAD_FIELDS = [
    "email",
    "email_status",
    "email_confidence",
    "phone",
    "provider",
    "enriched_at",
    *PROVENANCE_FIELDS,
    "suppressed_at",
]
# The LEAD_FIELDS apply_to_lead writes for each kind of change: a slice's lead write sends the
# columns some lead of the slice changed, not all of them (psycopg dumps each array element in
# Python; an email-only run never changes the phone's columns).
_EMAIL_FIELDS = frozenset(
    {"email", "email_status", "email_confidence", "email_source", "email_found_at"}
    | {"email_workflow_id", "email_verifier", "provider", "enriched_at"}
)
_PHONE_FIELDS = frozenset(
    {"phone", "phone_source", "phone_found_at", "phone_workflow_id", "provider", "enriched_at"}
)
_SUPPRESSED_FIELDS = frozenset({"suppressed_at"})
# The item error of a lead the suppression list covers (leads.suppression).
SUPPRESSED = "suppressed"
# What a chunk writes on its items.
ITEM_FIELDS = [
    "status",
    "email",
    "email_status",
    "email_confidence",
    "phone",
    "provider",
    "attempts",
    "error",
    "credits_charged",
    "finished_at",
]
# An open (queued or running) item holds none of its result yet: a result is written once,
# with `finished_at`, and nothing makes a finished item open again. So a chunk does not read
# these columns (decoding every claimed item's attempts JSON was a third of loading a chunk);
# its items start from the model's defaults. Never changed in place: apply_to_item assigns.
OPEN_ITEM_RESULT = {
    field.name: field.get_default()
    for field in WorkflowItem._meta.concrete_fields
    if field.name in ITEM_FIELDS
}
# What a chunk reads of its leads: who to look up, what they already hold, what it may write.
LEAD_READ_FIELDS = [
    "id",
    "workspace_id",
    "first_name",
    "last_name",
    "full_name",
    "company_name",
    "domain",
    "linkedin_url",
    "identity_key",
    *LEAD_FIELDS,
]


class Row(SimpleNamespace):
    """An item or a lead as a chunk reads and writes it: its columns as attributes, not a model
    instance (building two model instances per lead was the largest Python cost of loading a
    chunk: docs/benchmarks.md). `common.bulk.rows_update` writes it like a model instance."""

    @property
    def pk(self) -> Any:
        return self.id


def chunk_rows(claimed: Iterable[Sequence[Any]]) -> list[Row]:
    """A chunk's claimed items with their leads (`item.lead`), as rows, from tuples of the
    item's id, its lead's id and the lead's LEAD_READ_FIELDS; no model instance."""
    rows = []
    for values in claimed:
        # Filled through __dict__: no keyword dict built and copied per row.
        item, lead = Row(), Row()
        lead.__dict__.update(zip(LEAD_READ_FIELDS, values[2:], strict=True))
        item.__dict__.update(OPEN_ITEM_RESULT, id=values[0], lead_id=values[1], lead=lead)
        rows.append(item)
    return rows


def missing_data_filter(
    enrichment_type: str, *, prefix: str = "", output: str = Workflow.Output.SKIP_EXISTING
) -> Q:
    """Leads that lack some of the data this type asks for (the ones skip_existing enriches),
    or, for refresh_stale, hold some of it past its time to live: the complement of what leads
    counts as holding it."""
    return ~lead_holds_q(enrichment_type, output=output, prefix=prefix)


@dataclass(frozen=True)
class LeadPlan:
    wanted: frozenset[DataPoint]

    @functools.cached_property
    def max_cost(self) -> int:
        return prices.charge_for_found(
            emails_found=int(self.wants_email), phones_found=int(self.wants_phone)
        )

    # Asked of every outcome several times (LeadOutcome.email, .phone); an enum's hash is a
    # Python call, so each plan (shared by every lead of a kind) answers once.
    @functools.cached_property
    def wants_email(self) -> bool:
        return DataPoint.EMAIL in self.wanted

    @functools.cached_property
    def wants_phone(self) -> bool:
        return DataPoint.PHONE in self.wanted


def plan_for(workflow: Workflow, lead: Lead | Row) -> LeadPlan:
    output = workflow.output
    overwrite = output == _OVERWRITE
    held_email = not overwrite and bool(lead.email)
    held_phone = not overwrite and bool(lead.phone)
    if output == _REFRESH_STALE:
        # A value past its time to live is looked up again (docs/privacy.md, "Freshness").
        now = timezone.now()
        held_email = held_email and not freshness.is_stale(
            freshness.EMAIL, lead.email_found_at, now=now
        )
        held_phone = held_phone and not freshness.is_stale(
            freshness.PHONE, lead.phone_found_at, now=now
        )
    return _plan(workflow.enrichment_type, held_email, held_phone)


# Read once per lead: as globals, not through the choices' Enum class (a metaclass lookup).
_OVERWRITE, _REFRESH_STALE = Workflow.Output.OVERWRITE, Workflow.Output.REFRESH_STALE


@functools.cache
def _plan(enrichment_type: str, held_email: bool, held_phone: bool) -> LeadPlan:
    """One plan per combination (a handful), shared by every lead of every chunk (positional
    arguments: functools.cache builds a cheaper key from them than from keywords)."""
    held = {DataPoint.EMAIL: held_email, DataPoint.PHONE: held_phone}
    return LeadPlan(frozenset(dp for dp in REQUESTED[enrichment_type] if not held[dp]))


def person_input(lead: Lead | Row) -> PersonInput:
    # Positional, in PersonInput's field order (one per lead; keywords cost a third more).
    return PersonInput(
        lead.first_name,
        lead.last_name,
        lead.full_name,
        lead.company_name,
        lead.domain,
        lead.linkedin_url,
        lead.email,
        lead.phone,
    )


@dataclass
class LeadOutcome:
    item: WorkflowItem | Row
    plan: LeadPlan
    result: WaterfallResult | None
    # Whether a found email is charged (a `risky` one is not under `accept_uncharged`).
    email_charged: bool = True
    # On the suppression list: nothing looked up, stored or charged.
    suppressed: bool = False

    @property
    def email(self) -> str | None:
        if self.result is None or not self.plan.wants_email:
            return None
        return self.result.email

    @property
    def phone(self) -> str | None:
        if self.result is None or not self.plan.wants_phone:
            return None
        return self.result.phone

    def apply_to_item(self, now: datetime) -> None:
        item, result = self.item, self.result
        item.finished_at = now
        if self.suppressed:
            item.status, item.error = ItemStatus.SKIPPED, SUPPRESSED
            return
        if result is None:  # nothing left to look up for this lead
            item.status, item.error = ItemStatus.SKIPPED, "already holds the data"
            return
        email, phone = self.email, self.phone  # each a property: read once
        item.attempts = attempts_json(result.attempts)
        item.email = email or ""
        item.email_status = str(result.email_status or "") if email else ""
        item.email_confidence = result.email_confidence if email else None
        item.phone = phone or ""
        item.provider = (
            (result.email_provider if email else None)
            or (result.phone_provider if phone else None)
            or ""
        )
        item.credits_charged = prices.charge_for_found(
            emails_found=int(bool(email) and self.email_charged),
            phones_found=int(bool(phone)),
        )
        if email or phone:
            item.status, item.error = ItemStatus.COMPLETED, ""
        elif result.error:
            item.status, item.error = ItemStatus.FAILED, result.error
        else:
            item.status, item.error = ItemStatus.NOT_FOUND, ""

    def apply_to_lead(
        self, workflow: Workflow, now: datetime, fresh: "FreshSince | None" = None
    ) -> bool:
        """Writes what was found onto the lead; returns whether anything changed. Nothing is
        ever blanked: a miss leaves the lead as it was. `fresh`: fresh_since(now), which a
        caller writing many outcomes at one `now` works out once."""
        lead = self.item.lead
        if self.suppressed:
            changed = lead.suppressed_at is None
            lead.suppressed_at = lead.suppressed_at or now
            return changed
        email, phone = self.email, self.phone
        if not (email or phone):
            return False
        if self._reconfirms(lead, fresh or fresh_since(now)):
            return False
        if email:
            lead.email = email
            lead.email_status = self.item.email_status
            lead.email_confidence = self.item.email_confidence
            lead.email_source = (
                self.item.provider if self.result is None else (self.result.email_provider or "")
            )
            lead.email_found_at = now
            lead.email_workflow_id = workflow.pk
            lead.email_verifier = self._verifier()
        if phone:
            lead.phone = phone
            lead.phone_source = "" if self.result is None else (self.result.phone_provider or "")
            lead.phone_found_at = now
            lead.phone_workflow_id = workflow.pk
        lead.provider = self.item.provider
        lead.enriched_at = now
        return True

    def lead_fields(self) -> frozenset[str]:
        """The lead's columns apply_to_lead wrote, when it said it changed the lead."""
        if self.suppressed:
            return _SUPPRESSED_FIELDS
        email, phone = self.email, self.phone
        if email and phone:
            return _EMAIL_FIELDS | _PHONE_FIELDS
        return _EMAIL_FIELDS if email else _PHONE_FIELDS

    def _reconfirms(self, lead: Lead | Row, fresh: "FreshSince") -> bool:
        """Whether every value found is what the lead already holds, from the same provider
        and verifier, and still fresh: then the lead is left as it is, its provenance naming
        the run that first found the value (a list enriched again with `overwrite` answers
        from the cache, and rewriting 100,000 unchanged leads was most of that run:
        docs/benchmarks.md). A stale value is rewritten, so `refresh_stale` renews its age."""
        if self.email and not (
            lead.email == self.email
            and lead.email_status == self.item.email_status
            and lead.email_confidence == self.item.email_confidence
            and lead.email_source == (self.result.email_provider or "" if self.result else "")
            and lead.email_verifier == self._verifier()
            and lead.email_found_at is not None
            and lead.email_found_at >= fresh.email  # not stale (freshness.is_stale)
        ):
            return False
        if self.phone and not (
            lead.phone == self.phone
            and lead.phone_source == (self.result.phone_provider or "" if self.result else "")
            and lead.phone_found_at is not None
            and lead.phone_found_at >= fresh.phone
        ):
            return False
        return lead.provider == self.item.provider

    def _verifier(self) -> str:
        """The provider whose verdict the email carries (the last verification that answered);
        empty when the finder's own verdict stood."""
        for attempt in reversed(self.result.attempts if self.result else []):
            if attempt.data_point == DataPoint.EMAIL_VERIFICATION and attempt.verdict:
                return attempt.provider
        return ""

    def withhold_suppressed(self, listed: set[suppression.Entry]) -> None:
        """A found email or phone the list covers means the lead is a suppressed person:
        everything found is dropped (with its trace in the attempts), nothing is charged, and
        the lead is marked."""
        result = self.result
        if result is None:
            return
        email = canonical.email(result.email) if result.email else None
        phone = canonical.phone(result.phone) if result.phone else None
        if not set(suppression.person_entries(email=email, phone=phone)) & listed:
            return
        result.email, result.email_status, result.email_provider = None, None, None
        result.phone, result.phone_provider = None, None
        for attempt in result.attempts:
            attempt.value = None
        self.suppressed = True


class FreshSince(NamedTuple):
    """The oldest `*_found_at` of an email and of a phone that is still fresh at a time: what
    freshness.is_stale compares with, worked out once for a slice's outcomes (reading the
    time-to-live settings, a lazy object, for every reconfirmed lead was a fifth of a rerun's
    `_record`)."""

    email: datetime
    phone: datetime


def fresh_since(now: datetime) -> FreshSince:
    return FreshSince(now - freshness.ttl(freshness.EMAIL), now - freshness.ttl(freshness.PHONE))


# The JSON of an attempt (Attempt.to_json) without its two per-call numbers, by the fields it
# is made of: an item's attempts are written as JSON text (attempts_json) built from these,
# since a run's attempts are a handful of shapes (a provider's hit, miss or verdict) repeated
# for every lead, and encoding each one's dict was most of the item write's Python.
_ATTEMPT_HEADS: dict[tuple, str] = {}
_ATTEMPT_HEADS_MAX = 4096  # shapes held at most (real calls' statuses vary more than hits')
_PER_CALL = ("ms", "cache_entry_id")  # Attempt.to_json's numbers that differ call by call


def attempts_json(attempts: Sequence[Attempt]) -> JSONText:
    """`json.dumps([a.to_json() for a in attempts])` as far as the stored JSON goes (the same
    keys and values; jsonb keeps no key order or spacing), built from each attempt's shape."""
    parts = []
    for attempt in attempts:
        ms, entry, cost, cached, verdict = (
            attempt.ms, attempt.cache_entry_id, attempt.cost, attempt.cached, attempt.verdict
        )  # fmt: skip
        # Only the types whose JSON the shape decides: 0 == 0.0 and True == 1 as keys, but
        # their JSON (and jsonb) differ.
        if not (
            type(ms) is int
            and (entry is None or type(entry) is int)
            and type(cost) is float
            and type(cached) is bool
        ):
            parts.append(json.dumps(attempt.to_json()))
            continue
        shape = (
            attempt.provider,
            str(attempt.data_point),
            str(attempt.outcome),
            cost,
            cached,
            attempt.provider_status,
            str(verdict) if verdict else None,
        )
        head = _ATTEMPT_HEADS.get(shape)
        if head is None:
            head = _attempt_head(attempt, shape)
        parts.append(f'{head}"ms": {ms}, "cache_entry_id": {"null" if entry is None else entry}}}')
    return JSONText("[" + ", ".join(parts) + "]")


def _attempt_head(attempt: Attempt, shape: tuple) -> str:
    """The attempt's JSON up to its per-call numbers: `{"provider": …, …, ` (a dict's JSON
    without its closing brace)."""
    fields = attempt.to_json()
    if set(_PER_CALL) - set(fields):
        raise KeyError(f"Attempt.to_json no longer has {_PER_CALL}: attempts_json needs them")
    for name in _PER_CALL:
        del fields[name]
    head = json.dumps(fields)[:-1] + ", "
    if len(_ATTEMPT_HEADS) >= _ATTEMPT_HEADS_MAX:
        _ATTEMPT_HEADS.clear()
    _ATTEMPT_HEADS[shape] = head
    return head


def lead_fields_written(changes: Iterable[frozenset[str]]) -> list[str]:
    """The LEAD_FIELDS (in their order) of a write of leads with these changes (lead_fields):
    a lead whose own change is narrower gets its other columns written back as it read them."""
    written = frozenset().union(*changes)
    return [name for name in LEAD_FIELDS if name in written]


def run(
    affordable: Sequence[tuple[WorkflowItem | Row, LeadPlan]], *, workspace_id: str, tag: str = ""
) -> list[LeadOutcome]:
    """Runs the waterfall for a chunk and returns every outcome at once (see run_slices)."""
    return [
        outcome
        for outcomes in run_slices(
            affordable, workspace_id=workspace_id, tag=tag, slice_seconds=float("inf")
        )
        for outcome in outcomes
    ]


def run_slices(
    affordable: Sequence[tuple[WorkflowItem | Row, LeadPlan]],
    *,
    workspace_id: str,
    tag: str = "",
    slice_seconds: float,
    fed: threading.Event | None = None,
) -> Iterator[list[LeadOutcome]]:
    """Runs the waterfall for a chunk, handing back its outcomes in slices about every
    `slice_seconds` (the leads that need no lookup first) while the other leads' calls go on:
    one engine batch per distinct set of wanted data points (usually one), so cache reads and
    call records stay batched. The provider cache is the workspace's own (docs/providers.md).
    `fed`: see engine.iter_batch (set by the last batch only)."""
    groups: dict[frozenset, list[tuple[WorkflowItem | Row, LeadPlan]]] = defaultdict(list)
    outcomes = []
    # The suppression list first: a covered lead reaches neither the cache nor a provider.
    suppressed = suppression.leads_suppressed(
        workspace_id=workspace_id, leads=[item.lead for item, _ in affordable]
    )
    for item, plan in affordable:
        if item.lead_id in suppressed:
            outcomes.append(LeadOutcome(item, plan, None, suppressed=True))
        elif plan.wanted:
            groups[plan.wanted].append((item, plan))
        else:
            outcomes.append(LeadOutcome(item, plan, None))
    if outcomes:
        yield outcomes
    config = run_waterfall(workflow_id=tag, workspace_id=workspace_id) if groups else None
    # Whether a found email of each status is charged, asked once a chunk rather than a lead
    # (a status of no waterfall's is charged, as ResolvedWaterfall.charges says).
    charged = {status: config is None or config.charges(status) for status in _EMAIL_STATUSES}
    for position, (wanted, members) in enumerate(groups.items(), start=1):
        people = [person_input(item.lead) for item, _ in members]
        for finished in engine.iter_batch(
            people,
            set(wanted),
            slice_seconds=slice_seconds,
            tag=tag,
            workspace_id=workspace_id,
            waterfall=config,
            fed=fed if position == len(groups) else None,
        ):
            found = [
                LeadOutcome(
                    members[index][0],
                    members[index][1],
                    result,
                    email_charged=charged.get(result.email_status, True),
                )
                for index, result in finished
            ]
            _withhold_found_suppressed(found, workspace_id=workspace_id)
            yield found


# A result's email status: one of these, or None when no email was found.
_EMAIL_STATUSES = (None, *EmailStatus)


def run_waterfall(*, workflow_id: str, workspace_id: str) -> ResolvedWaterfall:
    """The waterfall a chunk of this run uses: the configuration version its first chunk
    pinned (so a change mid-run applies to the next run), with the current `auto` orders."""
    version = workflow_waterfall_version(workflow_id=workflow_id) if workflow_id else None
    if version == 0:
        # Pinned to the operator's defaults: there is no workspace configuration to read
        # (a workspace's versions start at 1), so no query for one.
        return operator_default()
    config = waterfall_resolve(workspace_id=workspace_id, version=version)
    if workflow_id and version is None:
        # The first chunk to get here wins; a concurrent first chunk keeps what it resolved.
        Workflow.objects.filter(pk=workflow_id, waterfall_version__isnull=True).update(
            waterfall_version=config.version, waterfall=config.snapshot()
        )
    return config


def _withhold_found_suppressed(outcomes: list[LeadOutcome], *, workspace_id: str) -> None:
    """A lead found only by name can turn out to be a suppressed person once a provider names
    their email or phone: the list is checked again on what was found (one query, two when
    the list is not empty). The found values are canonicalised only for a workspace the list
    covers at all (most have no entry: the canonical email alone was 5 % of a chunk)."""
    if not suppression.any_listed(workspace_id):
        return
    found: list[suppression.Entry] = []
    for outcome in outcomes:
        result = outcome.result
        if result is None:
            continue
        email = canonical.email(result.email) if result.email else None
        phone = canonical.phone(result.phone) if result.phone else None
        found.extend(suppression.person_entries(email=email, phone=phone))
    listed = suppression.entries_suppressed(workspace_id=workspace_id, entries=found)
    if listed:
        for outcome in outcomes:
            outcome.withhold_suppressed(listed)
