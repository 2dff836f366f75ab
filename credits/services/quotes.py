"""Signed, single-use quotes (`POST /credits/estimate`) and their redemption.

A quote id is `qte_<kid>_<issued_at>_<sig>`: `sig` is an HMAC-SHA256, under the key named
`kid`, over the workspace, tool, canonical parameters, row count, cost, issue time and a random
nonce. The row in `Quote` makes it single-use and keeps what it was bound to; the signature makes
the id unguessable and any edit of the stored binding detectable. Keys rotate by adding a new
`kid:secret` in front of SLUICE_QUOTE_SIGNING_KEYS: old quotes keep verifying until they expire.
"""

import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import Workspace
from common.exceptions import (
    NotFound,
    QuoteConsumed,
    QuoteExpired,
    QuoteMismatch,
    SpendCapExceeded,
    ValidationFailed,
)
from credits import prices
from credits.counting import scope_counts
from credits.models import Quote, Tool
from credits.prices import EnrichmentType
from credits.selectors import balance_get

_KID = re.compile(r"^[A-Za-z0-9]{1,16}$")
_QUOTE_ID = re.compile(
    r"^qte_(?P<kid>[A-Za-z0-9]{1,16})_(?P<issued>\d{1,12})_(?P<sig>[0-9a-f]{32})$"
)
OUTPUTS = ("skip_existing", "overwrite", "refresh_stale")
MAX_ENTITY_IDS = 2000


def _signing_keys() -> dict[str, bytes]:
    """kid → secret, the signing key first."""
    configured = settings.SLUICE_QUOTE_SIGNING_KEYS
    if not configured:
        derived = salted_hmac("sluice.quote-key", "k0", secret=settings.SECRET_KEY).digest()
        return {"k0": derived}
    keys: dict[str, bytes] = {}
    for item in configured:
        kid, _, secret = item.partition(":")
        if not _KID.match(kid) or not secret:
            raise ImproperlyConfigured("SLUICE_QUOTE_SIGNING_KEYS entries are `kid:secret`.")
        keys[kid] = secret.encode()
    return keys


def _signature(*, key: bytes, quote: Quote, kid: str, issued: int) -> str:
    message = "|".join(
        [
            kid,
            str(issued),
            str(quote.workspace_id),
            quote.tool,
            quote.params_hash,
            str(quote.row_count),
            str(quote.estimated_cost),
            quote.nonce,
        ]
    )
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:32]


def _digest(value: object) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def canonical_params(
    *,
    tool: str,
    list_id: str | uuid.UUID | None = None,
    task_id: str | None = None,
    entity_ids: list[str] | None = None,
    enrichment_type: str | None = None,
    output: str | None = None,
    agent_type: str | None = None,
    column_name: str | None = None,
) -> dict:
    """The parameters a quote for `tool` is bound to, in one canonical form, so the estimate
    and the paid call compare like with like (`phone-only` = `phone_only`, entity ids as a
    sorted set, list ids as lower-case UUIDs). Fields that do not affect `tool`'s price are
    dropped."""
    if tool not in Tool.values:
        raise ValidationFailed(
            details={"tool": [f"Unknown tool; expected one of {', '.join(Tool.values)}."]}
        )
    if tool == Tool.ENRICH_COMPANY:
        return {}
    if tool == Tool.RUN_SMART_AGENT:
        return _smart_agent_params(list_id=list_id, agent_type=agent_type, column_name=column_name)
    kind = prices.normalize_enrichment_type(enrichment_type or EnrichmentType.PARTIAL)
    if tool == Tool.ENRICH_PERSON:
        return {"enrichment_type": kind}
    if tool == Tool.ENRICH_LIST:
        if not list_id:
            raise ValidationFailed(details={"list_id": ["Required for enrich_list."]})
        try:
            list_id = str(uuid.UUID(str(list_id)))
        except ValueError:
            raise NotFound(f"No lead list {list_id}.") from None
        output = output or OUTPUTS[0]
        if output not in OUTPUTS:
            raise ValidationFailed(details={"output": [f"Expected one of {', '.join(OUTPUTS)}."]})
        return {"list_id": list_id, "enrichment_type": kind, "output": output}
    # enrich_task
    if not task_id:
        raise ValidationFailed(details={"task_id": ["Required for enrich_task."]})
    ids = sorted({str(entity) for entity in entity_ids}) if entity_ids else None
    if ids is not None and len(ids) > MAX_ENTITY_IDS:
        raise ValidationFailed(details={"entity_ids": [f"At most {MAX_ENTITY_IDS} ids."]})
    return {"task_id": task_id, "entity_ids": ids, "enrichment_type": kind}


def _smart_agent_params(
    *, list_id: str | uuid.UUID | None, agent_type: str | None, column_name: str | None
) -> dict:
    """A smart-agent quote is bound to the list, the agent type and the column it fills (the
    row count is bound apart, as for every tool)."""
    if not list_id:
        raise ValidationFailed(details={"list_id": ["Required for run_smart_agent."]})
    try:
        list_id = str(uuid.UUID(str(list_id)))
    except ValueError:
        raise NotFound(f"No lead list {list_id}.") from None
    if not column_name or len(column_name) > 100:
        raise ValidationFailed(
            details={
                "column_name": [
                    "Required for run_smart_agent (1 to 100 characters; for an estimate, "
                    "send it as `column_name` or `extra.column_name`)."
                ]
            }
        )
    return {
        "list_id": list_id,
        "agent_type": prices.agent_type_normalize(agent_type),
        "column_name": column_name,
    }


def _filter_hash(tool: str, params: dict) -> str:
    if tool in (Tool.ENRICH_LIST, Tool.RUN_SMART_AGENT):
        return _digest({"list_id": params["list_id"]})[:16]
    if tool == Tool.ENRICH_TASK:
        return _digest({"task_id": params["task_id"], "entity_ids": params["entity_ids"]})[:16]
    return "none"


def _cost(*, tool: str, params: dict, rows: int) -> int:
    if tool == Tool.ENRICH_COMPANY:
        return prices.company_cost(companies=rows)
    if tool == Tool.RUN_SMART_AGENT:
        return prices.agent_reserve_cost(agent_type=params["agent_type"], rows=rows)
    return prices.reserve_cost(enrichment_type=params["enrichment_type"], leads=rows)


@dataclass(frozen=True)
class Estimate:
    quote: Quote
    to_enrich: int
    filter_hash: str
    available_credits: int

    @property
    def sufficient(self) -> bool:
        return self.available_credits >= self.quote.estimated_cost


def quote_create(
    *, workspace: Workspace, tool: str, params: dict, row_limit: int | None = None
) -> Estimate:
    """Prices `tool` over its scope and issues a signed quote. `params` are passed through
    canonical_params. Rows come from the list / cohort, never from the caller; `row_limit`
    (a smart agent's `max_rows`) can only lower them. Free: it reserves nothing, so
    `sufficient` is advice, not a promise."""
    params = canonical_params(tool=tool, **params)
    total, already_enriched = scope_counts(workspace=workspace, tool=tool, params=params)
    if row_limit is not None and total > row_limit:
        total, already_enriched = row_limit, min(already_enriched, row_limit)
    to_enrich = total if params.get("output") == "overwrite" else total - already_enriched
    keys = _signing_keys()
    kid = next(iter(keys))
    issued_at = timezone.now().replace(microsecond=0)
    issued = int(issued_at.timestamp())
    quote = Quote(
        workspace=workspace,
        tool=tool,
        params=params,
        params_hash=_digest(params),
        row_count=total,
        already_enriched=total - to_enrich,
        estimated_cost=_cost(tool=tool, params=params, rows=to_enrich),
        nonce=secrets.token_hex(16),
        issued_at=issued_at,
        expires_at=issued_at + timedelta(seconds=settings.SLUICE_QUOTE_TTL_SECONDS),
    )
    sig = _signature(key=keys[kid], quote=quote, kid=kid, issued=issued)
    quote.quote_id = f"qte_{kid}_{issued}_{sig}"
    quote.save(force_insert=True)
    _quotes_supersede_oldest(workspace=workspace, newest=quote)
    return Estimate(
        quote=quote,
        to_enrich=to_enrich,
        filter_hash=_filter_hash(tool, params),
        available_credits=balance_get(workspace=workspace).available,
    )


def _quotes_supersede_oldest(*, workspace: Workspace, newest: Quote) -> None:
    """Keeps at most SLUICE_QUOTE_MAX_LIVE_PER_WORKSPACE live (unused, unexpired) quotes per
    workspace by deleting the oldest beyond it, so estimates, free to any `credits:read` key,
    cannot pile up rows. A superseded id then answers like an unknown one (`quote_mismatch`).
    Used quotes belong to their hold and expired ones to `quotes_purge`: neither is touched."""
    keep = max(1, settings.SLUICE_QUOTE_MAX_LIVE_PER_WORKSPACE)
    superseded = list(
        Quote.objects.filter(
            workspace=workspace, consumed_at__isnull=True, expires_at__gt=timezone.now()
        )
        .exclude(pk=newest.pk)
        .order_by("-issued_at", "-quote_id")
        .values_list("pk", flat=True)[keep - 1 :]
    )
    if not superseded:
        return
    # One statement, the unused condition in it: a quote being redeemed meanwhile is locked, and
    # once its redemption commits PostgreSQL re-checks the row and leaves it (a queryset
    # .delete() would first select the rows, then delete them by id alone).
    placeholders = ", ".join(["%s"] * len(superseded))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Quote._meta.db_table} "  # noqa: S608 - our table; values are parameters
            f"WHERE quote_id IN ({placeholders}) AND consumed_at IS NULL",
            superseded,
        )


def _changed(quoted: dict, presented: dict) -> list[str]:
    return sorted(
        key for key in quoted.keys() | presented.keys() if quoted.get(key) != presented.get(key)
    )


def quote_redeem(
    *,
    workspace: Workspace,
    quote_id: str,
    tool: str,
    params: dict,
    row_count: int,
    cost: int,
) -> Quote:
    """Consumes the quote that pays for this call, or raises: `quote_mismatch` (unknown id,
    another workspace's quote, another tool, parameters or row count changed),
    `quote_consumed`, `quote_expired`, `spend_cap_exceeded` (`cost`, recomputed now, is above
    the quote). Call it INSIDE the transaction that places the hold it pays for (pass the
    result to `hold_place(quote=…)`), so the quote is spent if and only if the hold is."""
    match = _QUOTE_ID.match(quote_id or "")
    keys = _signing_keys()
    if match is None or match["kid"] not in keys:
        raise QuoteMismatch("Unknown quote id.", details={"quote_id": quote_id})
    presented = canonical_params(tool=tool, **params)
    with transaction.atomic():
        quote = (
            Quote.objects.select_for_update().filter(quote_id=quote_id, workspace=workspace).first()
        )
        # Another workspace's quote looks exactly like an unknown one: no existence oracle.
        if quote is None:
            raise QuoteMismatch("Unknown quote id.", details={"quote_id": quote_id})
        expected = _signature(
            key=keys[match["kid"]], quote=quote, kid=match["kid"], issued=int(match["issued"])
        )
        if not hmac.compare_digest(expected, match["sig"]):
            raise QuoteMismatch(
                "The quote's signature does not verify.", details={"quote_id": quote_id}
            )
        now = timezone.now()
        if quote.consumed_at is not None:
            raise QuoteConsumed(
                details={"quote_id": quote_id, "consumed_at": quote.consumed_at.isoformat()}
            )
        if now >= quote.expires_at:
            raise QuoteExpired(
                details={"quote_id": quote_id, "expired_at": quote.expires_at.isoformat()}
            )
        if quote.tool != tool:
            raise QuoteMismatch(
                f"The quote was issued for {quote.tool}, not {tool}.",
                details={"quoted_tool": quote.tool, "tool": tool},
            )
        if quote.params_hash != _digest(presented):
            raise QuoteMismatch(
                "The parameters changed since the quote was issued.",
                details={"changed": _changed(quote.params, presented)},
            )
        if quote.row_count != row_count:
            raise QuoteMismatch(
                f"The quote priced {quote.row_count} rows; this call has {row_count}.",
                details={"quoted_row_count": quote.row_count, "row_count": row_count},
            )
        if cost > quote.estimated_cost:
            raise SpendCapExceeded(
                f"This call costs {cost} credits; the quote caps it at {quote.estimated_cost}.",
                details={"cost": cost, "estimated_cost": quote.estimated_cost},
            )
        if Quote.objects.filter(pk=quote.pk, consumed_at__isnull=True).update(consumed_at=now) != 1:
            raise QuoteConsumed(details={"quote_id": quote_id})
        quote.consumed_at = now
        return quote


def quotes_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Deletes unused quotes expired more than `older_than` ago; used ones stay with their hold."""
    cutoff = timezone.now() - older_than
    deleted, _ = Quote.objects.filter(consumed_at__isnull=True, expires_at__lt=cutoff).delete()
    return deleted


def quote_expires_at_epoch(quote: Quote) -> int:
    return int(quote.expires_at.timestamp())


__all__ = [
    "Estimate",
    "canonical_params",
    "quote_create",
    "quote_expires_at_epoch",
    "quote_redeem",
    "quotes_purge",
]
