"""State changes for leads, lists, memberships and cohorts. Each function owns its
transaction."""

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Workspace
from common.exceptions import Conflict, NotFound, ValidationFailed
from leads import canonical, selectors
from leads.canonical import IdentityProblem
from leads.merge import fill_empty
from leads.models import Cohort, Lead, LeadList, ListMembership

# The SDK's bounds: `AddByLeadIds.lead_ids` ≤ 1000, `AddByCohort.entity_ids` ≤ 2000,
# `RemoveLeadsRequest.lead_ids` ≤ 100.
MAX_ADD_LEAD_IDS = 1000
MAX_COHORT_ENTITY_IDS = 2000
MAX_REMOVE_LEAD_IDS = 100

# --- Leads ---------------------------------------------------------------------------------

_PERSON_FIELD_ERRORS = {
    IdentityProblem.INVALID_LINKEDIN_URL: ("linkedin_url", "Not a LinkedIn profile URL."),
    IdentityProblem.INVALID_EMAIL: ("email", "Not a valid email address."),
}


def _fit_lead_columns(*, values: Mapping[str, str | None], identity_key: str) -> None:
    """A 400 for a normalised value longer than its Lead column (a LinkedIn URL grows to
    `https://www.linkedin.com/in/<slug>`; names and company make up the identity key)."""
    errors: dict[str, list[str]] = {}
    for name, value in {**values, "identity_key": identity_key}.items():
        limit = getattr(Lead._meta.get_field(name), "max_length", None)
        if not value or limit is None or len(value) <= limit:
            continue
        if name == "identity_key":
            errors["non_field_errors"] = [f"The person's identity is over {limit} characters."]
        else:
            errors[name] = [f"Longer than {limit} characters once normalised."]
    if errors:
        raise ValidationFailed(details=errors)


def lead_resolve_person(*, workspace: Workspace, person: Mapping[str, Any]) -> Lead:
    """The workspace's lead for this person, created if new. Accepts `person_id` or a strong
    identifier (email, LinkedIn URL in any common form) or first + last name with a company
    name or domain (`canonical.person_identify`). An existing lead gets the fields it lacks
    (`merge.fill_empty`: nothing it holds is overwritten)."""
    if person.get("person_id"):
        try:
            return Lead.objects.get(workspace=workspace, pk=uuid.UUID(str(person["person_id"])))
        except (ValueError, Lead.DoesNotExist):
            raise NotFound(f"No person {person['person_id']}.") from None
    identity = canonical.person_identify(
        linkedin_url=person.get("linkedin_url"),
        email=person.get("email"),
        first_name=person.get("first_name"),
        last_name=person.get("last_name"),
        full_name=person.get("full_name"),
        company_name=person.get("company_name"),
        domain=person.get("domain"),
    )
    errors = {
        field: [message]
        for problem, (field, message) in _PERSON_FIELD_ERRORS.items()
        if problem in identity.problems
    }
    if errors:
        raise ValidationFailed(details=errors)
    if identity.key is None:
        raise ValidationFailed(
            "Give email, linkedin_url or person_id, or first_name + last_name with "
            "company_name or domain.",
            details={"non_field_errors": ["No identifier for this person."]},
        )
    # The lead's company domain may come from its email; the identity never needs it there.
    domain = identity.domain or (identity.email and canonical.domain(identity.email))
    values = {
        "first_name": identity.first_name,
        "last_name": identity.last_name,
        "full_name": identity.full_name,
        "company_name": identity.company_name,
        "domain": domain or "",
        "linkedin_url": identity.linkedin_url,
        "email": identity.email,
        "phone": canonical.phone(person.get("phone")),
    }
    _fit_lead_columns(values=values, identity_key=identity.key)
    try:
        with transaction.atomic():
            lead, created = Lead.objects.get_or_create(
                workspace=workspace, identity_key=identity.key, defaults=values
            )
    except IntegrityError:
        lead, created = Lead.objects.get(workspace=workspace, identity_key=identity.key), False
    if not created:
        filled = fill_empty(lead, values)
        if filled:
            Lead.objects.filter(pk=lead.pk).update(**filled)
    return lead


# --- Cohorts -------------------------------------------------------------------------------


def cohort_create(
    *, workspace: Workspace, entity_kind: str, entity_ids: list[Any], source: str
) -> Cohort:
    """Records the ids a search or list read returned under a fresh `cl-task_…` handle that
    expires after `SLUICE_COHORT_TTL_SECONDS`."""
    if entity_kind not in Cohort.EntityKind.values:
        raise ValueError(f"Unknown cohort entity kind {entity_kind!r}.")
    return Cohort.objects.create(
        workspace=workspace,
        entity_kind=entity_kind,
        entity_ids=[str(entity_id) for entity_id in entity_ids],
        source=source,
        expires_at=timezone.now() + timedelta(seconds=settings.SLUICE_COHORT_TTL_SECONDS),
    )


def cohort_purge_expired() -> int:
    """Deletes expired cohorts (they are already invisible); for a periodic task."""
    deleted, _ = Cohort.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


# --- Lists ---------------------------------------------------------------------------------


def lead_list_create(
    *,
    workspace: Workspace,
    name: str,
    description: str | None = None,
    folder_id: uuid.UUID | None = None,
) -> tuple[LeadList, bool]:
    """Creates the list, or returns the workspace's list of the same name (case-insensitive)
    untouched with `reused=True`. Two concurrent creates meet at the unique constraint: the
    loser reuses the winner's list."""
    # The folder is checked first, so a foreign folder is a 404 whether or not the name exists.
    folder = selectors.folder_get(workspace=workspace, folder_id=folder_id) if folder_id else None
    existing = selectors.lead_list_find_by_name(workspace=workspace, name=name)
    if existing is not None:
        return existing, True
    try:
        with transaction.atomic():
            lead_list = LeadList.objects.create(
                workspace=workspace, name=name, description=description or "", folder=folder
            )
    except IntegrityError:
        existing = selectors.lead_list_find_by_name(workspace=workspace, name=name)
        if existing is None:
            raise
        return existing, True
    return lead_list, False


_UPDATABLE = ("name", "description", "folder_id")


def lead_list_update(
    *, workspace: Workspace, list_id: uuid.UUID, changes: dict[str, Any]
) -> LeadList:
    """PATCH semantics: only keys present in `changes` change; `description: None` clears it,
    `folder_id: None` unfiles the list. Renaming onto another list's name is a 409."""
    if not changes or set(changes) - set(_UPDATABLE):
        raise ValidationFailed(
            "Send at least one of name, description, folder_id.",
            details={"non_field_errors": ["At least one of name, description, folder_id."]},
        )
    with transaction.atomic():
        lead_list = selectors.lead_list_get(workspace=workspace, list_id=list_id)
        lead_list = LeadList.objects.select_for_update().get(pk=lead_list.pk)
        fields = ["updated_at"]
        if "name" in changes:
            taken = selectors.lead_list_find_by_name(workspace=workspace, name=changes["name"])
            if taken is not None and taken.pk != lead_list.pk:
                raise _name_taken(changes["name"])
            lead_list.name = changes["name"]
            fields.append("name")
        if "description" in changes:
            lead_list.description = changes["description"] or ""
            fields.append("description")
        if "folder_id" in changes:
            folder_id = changes["folder_id"]
            lead_list.folder = (
                selectors.folder_get(workspace=workspace, folder_id=folder_id)
                if folder_id
                else None
            )
            fields.append("folder")
        try:
            with transaction.atomic():
                lead_list.save(update_fields=fields)
        except IntegrityError:
            # A concurrent rename or create took the name between our check and our write.
            raise _name_taken(changes["name"]) from None
    return lead_list


def _name_taken(name: str) -> Conflict:
    return Conflict(
        "Another list in this workspace already has this name.", details={"name": [name]}
    )


def lead_list_delete(*, workspace: Workspace, list_id: uuid.UUID) -> None:
    """Deletes the list and its memberships; the leads stay in the workspace."""
    with transaction.atomic():
        lead_list = selectors.lead_list_get(workspace=workspace, list_id=list_id)
        ListMembership.objects.filter(lead_list=lead_list).delete()
        lead_list.delete()


# --- Memberships ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AddLeadsResult:
    list_id: uuid.UUID
    added: int
    skipped_duplicates: int
    # Ids that are not a lead of this workspace (unknown, deleted or another workspace's):
    # never added, never an error, so the answer says nothing about other workspaces.
    skipped_unknown: int


def lead_list_add_leads(
    *,
    workspace: Workspace,
    list_id: uuid.UUID,
    lead_ids: list[uuid.UUID] | None = None,
    task_id: str | None = None,
    entity_ids: list[str] | None = None,
) -> AddLeadsResult:
    """Adds leads by id, or a cohort (optionally the `entity_ids` subset of it), in one
    `INSERT … ON CONFLICT DO NOTHING`; leads already in the list count as duplicates."""
    if (lead_ids is None) == (task_id is None):
        raise ValidationFailed(
            "Send exactly one of lead_ids or task_id.",
            details={"non_field_errors": ["Send exactly one of lead_ids or task_id."]},
        )
    with transaction.atomic():
        lead_list = selectors.lead_list_get(workspace=workspace, list_id=list_id)
        if task_id is not None:
            cohort = selectors.cohort_get(workspace=workspace, task_id=task_id)
            if cohort.entity_kind != Cohort.EntityKind.PERSON:
                raise ValidationFailed(
                    details={"task_id": ["This task holds companies; only people go in a list."]}
                )
            selected = selectors.cohort_select_ids(cohort=cohort, entity_ids=entity_ids)
            lead_ids = [parsed for raw in selected if (parsed := selectors.parse_uuid(raw))]
        assert lead_ids is not None  # exactly one of lead_ids and task_id, checked above
        requested = list(dict.fromkeys(lead_ids))
        matched = Lead.objects.filter(workspace=workspace, id__in=requested).count()
        added = _insert_memberships(workspace=workspace, lead_list=lead_list, lead_ids=requested)
    return AddLeadsResult(
        list_id=lead_list.id,
        added=added,
        skipped_duplicates=matched - added,
        skipped_unknown=len(requested) - matched,
    )


def _insert_memberships(
    *, workspace: Workspace, lead_list: LeadList, lead_ids: list[uuid.UUID]
) -> int:
    """One statement: joins the requested ids to the workspace's leads (so a foreign id
    inserts nothing), keeps the request order for the membership ids (the list's page order),
    and lets the unique constraint skip leads already in the list. Returns rows inserted."""
    if not lead_ids:
        return 0
    pk = Lead._meta.pk
    prep = [pk.get_db_prep_value(lead_id, connection) for lead_id in lead_ids]
    values = ", ".join(f"(%s, {position})" for position in range(len(prep)))
    membership_table = connection.ops.quote_name(ListMembership._meta.db_table)
    lead_table = connection.ops.quote_name(Lead._meta.db_table)
    sql = (
        f"WITH requested (lead_id, position) AS (VALUES {values}) "  # noqa: S608 (placeholders only)
        f"INSERT INTO {membership_table} (lead_list_id, lead_id, added_at) "
        f"SELECT %s, lead.id, %s FROM requested "
        f"JOIN {lead_table} lead ON lead.id = requested.lead_id "
        f"WHERE lead.workspace_id = %s ORDER BY requested.position "
        f"ON CONFLICT DO NOTHING RETURNING lead_id"
    )
    params = [
        *prep,
        LeadList._meta.pk.get_db_prep_value(lead_list.id, connection),
        ListMembership._meta.get_field("added_at").get_db_prep_value(timezone.now(), connection),
        Lead._meta.get_field("workspace").get_db_prep_value(workspace.pk, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def lead_list_remove_leads(
    *, workspace: Workspace, list_id: uuid.UUID, lead_ids: list[uuid.UUID]
) -> int:
    """Removes memberships (never leads); ids not in the list are ignored. Returns removed."""
    if len(lead_ids) > MAX_REMOVE_LEAD_IDS:
        raise ValidationFailed(
            details={"lead_ids": [f"At most {MAX_REMOVE_LEAD_IDS} ids per call."]}
        )
    with transaction.atomic():
        lead_list = selectors.lead_list_get(workspace=workspace, list_id=list_id)
        removed, _ = ListMembership.objects.filter(
            lead_list=lead_list, lead_id__in=lead_ids
        ).delete()
    return removed


# --- Reads that hand out a cohort handle ---------------------------------------------------


def list_leads_read(
    *, workspace: Workspace, list_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[selectors.Page, Cohort]:
    """A page of a list's leads and a cohort handle for exactly that page."""
    with transaction.atomic():
        page = selectors.list_leads_page(
            workspace=workspace, list_id=list_id, limit=limit, cursor=cursor
        )
        cohort = cohort_create(
            workspace=workspace,
            entity_kind=Cohort.EntityKind.PERSON,
            entity_ids=[lead.id for lead in page.items],
            source="list_leads",
        )
    return page, cohort


def _filters_digest(filters: dict[str, Any]) -> str:
    canonical = json.dumps(filters, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def people_search(
    *, workspace: Workspace, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[selectors.Page, Cohort]:
    """A page of the workspace's leads matching `filters`, and a cohort of the page's ids.
    The cursor is bound to the filters: replaying it with other filters is a 400."""
    with transaction.atomic():
        queryset = selectors.people_search_queryset(workspace=workspace, filters=filters)
        page = selectors.search_page(
            queryset=queryset.select_related("company"),
            kind=f"search_people:{_filters_digest(filters)}",
            limit=limit,
            cursor=cursor,
        )
        cohort = cohort_create(
            workspace=workspace,
            entity_kind=Cohort.EntityKind.PERSON,
            entity_ids=[lead.id for lead in page.items],
            source="search_people",
        )
    return page, cohort


def company_search(
    *, workspace: Workspace, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[selectors.Page, Cohort]:
    with transaction.atomic():
        queryset = selectors.company_search_queryset(workspace=workspace, filters=filters)
        page = selectors.search_page(
            queryset=queryset,
            kind=f"search_companies:{_filters_digest(filters)}",
            limit=limit,
            cursor=cursor,
        )
        cohort = cohort_create(
            workspace=workspace,
            entity_kind=Cohort.EntityKind.COMPANY,
            entity_ids=[company.id for company in page.items],
            source="search_companies",
        )
    return page, cohort


# --- Custom columns (a smart agent's output) ------------------------------------------------


def list_column_add(*, lead_list_id: uuid.UUID, column: str) -> None:
    """Adds `column` to the list's custom columns (once), under the list's row lock."""
    with transaction.atomic():
        lead_list = LeadList.objects.select_for_update().get(pk=lead_list_id)
        if column not in lead_list.custom_columns:
            lead_list.custom_columns = [*lead_list.custom_columns, column]
            lead_list.save(update_fields=["custom_columns", "updated_at"])


def list_column_write(
    *,
    lead_list_id: uuid.UUID,
    column: str,
    values: Mapping[str, Any],
    overwrite: bool,
) -> set[str]:
    """Writes lead id → value into the list's `column`; without `overwrite`, a lead that
    already holds a value keeps it. Returns the lead ids written. Locks the memberships in id
    order (two runs filling other columns of the same leads never lose each other's values);
    call it inside the transaction that records the values elsewhere."""
    if not values:
        return set()
    written: set[str] = set()
    with transaction.atomic():
        memberships = list(
            ListMembership.objects.select_for_update()
            .filter(lead_list_id=lead_list_id, lead_id__in=list(values))
            .order_by("id")
        )
        for membership in memberships:
            lead_id = str(membership.lead_id)
            if not overwrite and membership.custom_values.get(column) not in (None, ""):
                continue
            membership.custom_values = {**membership.custom_values, column: values[lead_id]}
            written.add(lead_id)
        ListMembership.objects.bulk_update(
            [m for m in memberships if str(m.lead_id) in written], ["custom_values"]
        )
    return written
