"""Reads over lists, leads, companies and cohorts. Every function is scoped to one workspace:
an id of another workspace is answered exactly like an unknown id (`NotFound`)."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import CharField, Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Workspace
from common.exceptions import NotFound, ValidationFailed
from common.pagination import decode_cursor, make_cursor
from credits.prices import EnrichmentType, normalize_enrichment_type
from leads import canonical, freshness
from leads.models import Cohort, Company, Folder, Lead, LeadList, ListMembership

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def _present(field: str) -> Q:
    # `> ''` is false for NULL and for the empty string an import may have left behind.
    return Q(**{f"{field}__gt": ""})


def lead_has_data_q(enrichment_type: str, *, prefix: str = "") -> Q:
    """Leads that already hold what `enrichment_type` would look up (email / phone / both)."""
    kind = normalize_enrichment_type(enrichment_type)
    email, phone = _present(f"{prefix}email"), _present(f"{prefix}phone")
    held = {
        EnrichmentType.PARTIAL: email,
        EnrichmentType.PHONE_ONLY: phone,
        EnrichmentType.FULL: email & phone,
    }
    return held[kind]


REFRESH_STALE = "refresh_stale"


def lead_has_fresh_data_q(enrichment_type: str, *, prefix: str = "") -> Q:
    """Leads that hold what `enrichment_type` looks up, none of it past its time to live
    (leads.freshness): the ones a `refresh_stale` run leaves alone."""
    kind = normalize_enrichment_type(enrichment_type)
    email = _present(f"{prefix}email") & ~freshness.stale_q(freshness.EMAIL, prefix=prefix)
    phone = _present(f"{prefix}phone") & ~freshness.stale_q(freshness.PHONE, prefix=prefix)
    held = {
        EnrichmentType.PARTIAL: email,
        EnrichmentType.PHONE_ONLY: phone,
        EnrichmentType.FULL: email & phone,
    }
    return held[kind]


def lead_holds_q(enrichment_type: str, *, output: str | None, prefix: str = "") -> Q:
    """Leads a run with this `output` counts as already holding the data (and leaves out):
    fresh data for refresh_stale, any data otherwise."""
    if output == REFRESH_STALE:
        return lead_has_fresh_data_q(enrichment_type, prefix=prefix)
    return lead_has_data_q(enrichment_type, prefix=prefix)


def _enriched_q(*, prefix: str = "") -> Q:
    """A lead counts as enriched once it holds an email or a phone."""
    return _present(f"{prefix}email") | _present(f"{prefix}phone")


# --- Ids -----------------------------------------------------------------------------------


def parse_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


# --- Folders and lists ---------------------------------------------------------------------


def folder_get(*, workspace: Workspace, folder_id: uuid.UUID | str) -> Folder:
    parsed = parse_uuid(folder_id)
    folder = (
        Folder.objects.filter(workspace=workspace, id=parsed).first()
        if parsed is not None
        else None
    )
    if folder is None:
        raise NotFound("Folder not found.", details={"folder_id": str(folder_id)})
    return folder


def lead_list_get(*, workspace: Workspace, list_id: uuid.UUID | str) -> LeadList:
    parsed = parse_uuid(list_id)
    lead_list = LeadList.objects.filter(workspace=workspace, id=parsed).first() if parsed else None
    if lead_list is None:
        raise NotFound("Lead list not found.", details={"list_id": str(list_id)})
    return lead_list


def lead_get(*, workspace: Workspace, lead_id: Any) -> Lead:
    """One lead of this workspace by id; a malformed id is answered like an unknown one."""
    parsed = parse_uuid(lead_id)
    lead = Lead.objects.filter(workspace=workspace, id=parsed).first() if parsed else None
    if lead is None:
        raise NotFound("Lead not found.", details={"lead_id": str(lead_id)})
    return lead


def lead_list_find_by_name(*, workspace: Workspace, name: str) -> LeadList | None:
    """The one lookup of a list by name: case-insensitive exactly as the unique constraint
    compares (`Lower("name")`, the database's `lower()`, which its index serves). Not
    `name__iexact`: that is `UPPER()`, which folds some letters differently."""
    return (
        LeadList.objects.alias(lower_name=Lower("name"))
        .filter(workspace=workspace, lower_name=Lower(Value(name, output_field=CharField())))
        .first()
    )


def lead_list_find(*, workspace: Workspace, ref: str) -> LeadList:
    """A list by id, else by (case-insensitive) name: how an operator names one on the command
    line."""
    parsed = parse_uuid(ref)
    by_id = LeadList.objects.filter(workspace=workspace, id=parsed).first() if parsed else None
    found = by_id or lead_list_find_by_name(workspace=workspace, name=ref)
    if found is None:
        raise NotFound(f"No list with id or name {ref!r} in {workspace.name!r}.")
    return found


class ListCounts(TypedDict):
    """What `lead_list_detail` annotates on the list."""

    lead_count: int
    enriched_count: int


def _lead_count() -> Count:
    # One definition for the page of lists and a list's detail.
    return Count("memberships")


def lead_list_detail(
    *, workspace: Workspace, list_id: uuid.UUID | str
) -> "WithAnnotations[LeadList, ListCounts]":
    """The list with live `lead_count` and `enriched_count` (leads holding an email or phone)."""
    lead_list = lead_list_get(workspace=workspace, list_id=list_id)
    return (
        LeadList.objects.filter(pk=lead_list.pk)
        .annotate(
            lead_count=_lead_count(),
            enriched_count=Count("memberships", filter=_enriched_q(prefix="memberships__lead__")),
        )
        .get()
    )


# --- Keyset pages, newest first ------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    cursor: str | None


def _newest_first_page(
    queryset: QuerySet, *, kind: str, limit: int, cursor: str | None
) -> tuple[list, str | None]:
    """Orders by (created_at, id) descending and starts after the cursor's row: a row added
    or removed elsewhere never shifts the next page (no OFFSET)."""
    position = decode_cursor(cursor, kind=kind)
    if position is not None:
        created_at = parse_datetime(str(position.get("created_at")))
        last_id = parse_uuid(position.get("id"))
        if created_at is None or last_id is None:
            raise ValidationFailed(details={"cursor": ["Invalid cursor."]})
        queryset = queryset.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=last_id)
        )
    rows = list(queryset.order_by("-created_at", "-id")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, make_cursor(kind=kind, created_at=last.created_at.isoformat(), id=str(last.id))


def lead_list_page(
    *, workspace: Workspace, folder_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page:
    queryset = LeadList.objects.filter(workspace=workspace)
    if folder_id is not None:
        queryset = queryset.filter(folder=folder_get(workspace=workspace, folder_id=folder_id))
    total = queryset.count()
    rows, next_cursor = _newest_first_page(
        queryset.select_related("folder").annotate(lead_count=_lead_count()),
        kind=f"lead_lists:{folder_id or ''}",
        limit=limit,
        cursor=cursor,
    )
    return Page(items=rows, total=total, cursor=next_cursor)


def list_leads_page(
    *, workspace: Workspace, list_id: uuid.UUID | str, limit: int, cursor: str | None
) -> Page:
    """Leads of a list in the order they were added, keyset on the membership id; `items`
    are the `Lead`s (with `company` loaded)."""
    lead_list = lead_list_get(workspace=workspace, list_id=list_id)
    kind = f"list_leads:{lead_list.id}"
    position = decode_cursor(cursor, kind=kind)
    # A suppressed person's data is never returned (leads.suppression).
    memberships = ListMembership.objects.filter(lead_list=lead_list, lead__suppressed_at=None)
    total = memberships.count()
    if position is not None:
        after = position.get("after")
        if not isinstance(after, int):
            raise ValidationFailed(details={"cursor": ["Invalid cursor."]})
        memberships = memberships.filter(id__gt=after)
    page = list(memberships.select_related("lead", "lead__company").order_by("id")[: limit + 1])
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        next_cursor = make_cursor(kind=kind, after=page[-1].id)
    return Page(items=[membership.lead for membership in page], total=total, cursor=next_cursor)


def list_enrichment_counts(
    *,
    workspace: Workspace,
    list_id: uuid.UUID | str,
    enrichment_type: str,
    output: str | None = None,
) -> tuple[int, int]:
    """(leads in the list, leads that already hold the data `enrichment_type` looks up; fresh
    data for `refresh_stale`)."""
    has_data = lead_holds_q(enrichment_type, output=output, prefix="lead__")
    lead_list = lead_list_get(workspace=workspace, list_id=list_id)
    counts = ListMembership.objects.filter(lead_list=lead_list).aggregate(
        total=Count("id"), holding=Count("id", filter=has_data)
    )
    return counts["total"], counts["holding"]


# --- Cohorts -------------------------------------------------------------------------------


def cohort_get(*, workspace: Workspace, task_id: str) -> Cohort:
    """An unexpired cohort of this workspace; expired, unknown and foreign are all NotFound."""
    cohort = Cohort.objects.filter(
        workspace=workspace, id=str(task_id), expires_at__gt=timezone.now()
    ).first()
    if cohort is None:
        raise NotFound(
            "Unknown or expired task_id; run the search or list read again for a fresh one.",
            details={"task_id": str(task_id)},
        )
    return cohort


def cohort_select_ids(*, cohort: Cohort, entity_ids: Iterable[str] | None) -> list[str]:
    """The cohort's ids, or the requested subset of them (in request order, deduplicated).
    Ids outside the cohort are a `ValidationFailed` naming them."""
    if entity_ids is None:
        return list(cohort.entity_ids)
    members = set(cohort.entity_ids)
    selected: dict[str, None] = {}
    outside = []
    for raw in entity_ids:
        parsed = parse_uuid(raw)
        key = str(parsed) if parsed else str(raw)
        if key in members:
            selected[key] = None
        else:
            outside.append(str(raw))
    if outside:
        raise ValidationFailed(
            "entity_ids must be a subset of the task's cohort.",
            details={"entity_ids": [f"Not in the cohort: {', '.join(outside[:20])}"]},
        )
    return list(selected)


def cohort_enrichment_counts(
    *,
    workspace: Workspace,
    task_id: str,
    entity_ids: list[str] | None,
    enrichment_type: str,
    output: str | None = None,
) -> tuple[int, int]:
    """(entities of the cohort, or of the `entity_ids` subset, that still exist; those that
    already hold the data). For a company cohort "holding the data" means already enriched."""
    cohort = cohort_get(workspace=workspace, task_id=task_id)
    ids = cohort_select_ids(cohort=cohort, entity_ids=entity_ids)
    queryset: QuerySet[Company] | QuerySet[Lead]
    if cohort.entity_kind == Cohort.EntityKind.COMPANY:
        normalize_enrichment_type(enrichment_type)
        holding = Q(enriched_at__isnull=False)
        queryset = Company.objects.filter(workspace=workspace, id__in=ids)
    else:
        holding = lead_holds_q(enrichment_type, output=output)
        queryset = Lead.objects.filter(workspace=workspace, id__in=ids)
    counts = queryset.aggregate(total=Count("id"), holding=Count("id", filter=holding))
    return counts["total"], counts["holding"]


# --- Search --------------------------------------------------------------------------------


def _contains_any(value: str, *fields: str) -> Q:
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}__icontains": value})
    return condition


def _domain_q(value: str, *fields: str) -> Q:
    """A domain given as `acme.com`, `https://www.acme.com/x` or `jo@acme.com` matches exactly
    on its canonical form; anything else (`acme`) is a case-insensitive contains."""
    domain = canonical.domain(value)
    condition = Q()
    for field in fields:
        condition |= Q(**{field: domain}) if domain else Q(**{f"{field}__icontains": value})
    return condition


def _flag(condition: Q, wanted: bool) -> Q:
    return condition if wanted else ~condition


def people_search_queryset(*, workspace: Workspace, filters: dict[str, Any]) -> QuerySet[Lead]:
    # A suppressed person's data is never returned (leads.suppression).
    queryset = Lead.objects.filter(workspace=workspace, suppressed_at=None)
    if value := filters.get("name"):
        queryset = queryset.filter(_contains_any(value, "full_name", "first_name", "last_name"))
    if value := filters.get("title"):
        queryset = queryset.filter(title__icontains=value)
    if value := filters.get("company"):
        queryset = queryset.filter(_contains_any(value, "company_name", "company__name"))
    if value := filters.get("domain"):
        queryset = queryset.filter(_domain_q(value, "domain", "company__domain"))
    if value := filters.get("industry"):
        queryset = queryset.filter(_contains_any(value, "industry", "company__industry"))
    if value := filters.get("location"):
        queryset = queryset.filter(location__icontains=value)
    if filters.get("has_email") is not None:
        queryset = queryset.filter(_flag(_present("email"), filters["has_email"]))
    if filters.get("has_phone") is not None:
        queryset = queryset.filter(_flag(_present("phone"), filters["has_phone"]))
    for field in (freshness.EMAIL, freshness.PHONE):
        # Freshness filters: `email_stale: true` finds what a refresh_stale run would look up.
        if filters.get(f"{field}_stale") is not None:
            queryset = queryset.filter(_flag(freshness.stale_q(field), filters[f"{field}_stale"]))
        if filters.get(f"{field}_found_before") is not None:
            queryset = queryset.filter(
                **{f"{field}_found_at__lt": filters[f"{field}_found_before"]}
            )
    if filters.get("list_id") is not None:
        lead_list = lead_list_get(workspace=workspace, list_id=filters["list_id"])
        # EXISTS, not a join: a lead is listed once however many memberships match.
        queryset = queryset.filter(
            Exists(ListMembership.objects.filter(lead_list=lead_list, lead=OuterRef("pk")))
        )
    return queryset


def company_search_queryset(*, workspace: Workspace, filters: dict[str, Any]) -> QuerySet[Company]:
    queryset = Company.objects.filter(workspace=workspace)
    if value := filters.get("name"):
        queryset = queryset.filter(name__icontains=value)
    if value := filters.get("domain"):
        queryset = queryset.filter(_domain_q(value, "domain"))
    if value := filters.get("industry"):
        queryset = queryset.filter(industry__icontains=value)
    if value := filters.get("location"):
        queryset = queryset.filter(hq_location__icontains=value)
    return queryset


def search_page(*, queryset: QuerySet, kind: str, limit: int, cursor: str | None) -> Page:
    """A newest-first page of a search; `kind` binds the cursor to the search's filters."""
    total = queryset.count()
    rows, next_cursor = _newest_first_page(queryset, kind=kind, limit=limit, cursor=cursor)
    return Page(items=rows, total=total, cursor=next_cursor)


def list_column_values(
    *, lead_list_id: uuid.UUID, column: str, lead_ids: list[Any]
) -> dict[str, Any]:
    """lead id → the value the list's `column` holds for it (only leads holding one)."""
    rows = ListMembership.objects.filter(
        lead_list_id=lead_list_id, lead_id__in=lead_ids
    ).values_list("lead_id", "custom_values")
    return {
        str(lead_id): values[column]
        for lead_id, values in rows
        if values.get(column) not in (None, "")
    }
