"""A workspace's waterfall, the writes: its configuration versions (`PUT /waterfall`) and its
`auto` orders (re-ranked by beat). docs/providers.md."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from accounts.models import Workspace
from common.exceptions import ValidationFailed
from providers import ranking
from providers.analytics import auto_ranking_history
from providers.base import DataPoint, EmailStatus
from providers.configuration import (
    AUTO,
    MIN_STATUS_CHOICES,
    ORDERED_DATA_POINTS,
    available_providers,
    operator_default,
)
from providers.models import AutoOrder, CatchAllPolicy, WaterfallConfig
from providers.selectors import waterfall_config_current


def _order_validate(data_point: DataPoint, value: object, errors: dict[str, list[str]]) -> list:
    """`"auto"`, `["auto"]` or a non-empty list of distinct providers the operator offers."""
    field = str(data_point)
    allowed = available_providers()[data_point]
    if value == AUTO or value == [AUTO]:
        if not allowed:
            errors[field] = ["The operator configured no provider for this data point."]
        return [AUTO]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors[field] = ['Expected "auto" or a list of provider names.']
        return []
    names = [v.strip().lower() for v in value]
    if not names:
        errors[field] = ['An order needs at least one provider (or "auto").']
    elif unknown := [n for n in names if n not in allowed]:
        errors[field] = [
            f"Unknown provider(s) {', '.join(unknown)} for {field}; "
            f"available: {', '.join(allowed) or 'none'}."
        ]
    elif len(set(names)) != len(names):
        errors[field] = ["A provider may appear only once in an order."]
    return names


def waterfall_config_set(
    *,
    workspace: Workspace,
    orders: dict[DataPoint, object],
    verifier: str | None = None,
    catch_all_policy: str | None = None,
    min_email_status: str | None = None,
    changed_by: str = "",
) -> WaterfallConfig:
    """Validates and writes the workspace's next configuration version. What is left out
    takes the operator's default; nothing is written when anything is refused."""
    default = operator_default()
    errors: dict[str, list[str]] = {}
    values = {
        str(dp): _order_validate(dp, orders[dp], errors)
        if dp in orders
        else list(default.orders[dp])
        for dp in ORDERED_DATA_POINTS
    }
    if verifier is None:
        verifier = next(iter(default.orders[DataPoint.EMAIL_VERIFICATION]), "")
    verifier = verifier.strip().lower()
    verifiers = available_providers()[DataPoint.EMAIL_VERIFICATION]
    if verifier and verifier not in verifiers:
        errors["verifier"] = [
            f"Unknown verifier {verifier!r}; available: {', '.join(verifiers) or 'none'} "
            '(or "" for none).'
        ]
    policy = catch_all_policy or default.catch_all_policy
    if policy not in CatchAllPolicy.values:
        errors["catch_all_policy"] = [f"Expected one of {', '.join(CatchAllPolicy.values)}."]
    status = min_email_status or default.min_email_status
    if status not in MIN_STATUS_CHOICES:
        errors["min_email_status"] = [f"Expected one of {', '.join(MIN_STATUS_CHOICES)}."]
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        # Versions are numbered under a lock on the workspace row: two PUTs at once get n+1
        # and n+2, never the same number.
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        latest = WaterfallConfig.objects.filter(workspace=workspace).aggregate(v=Max("version"))
        config = WaterfallConfig.objects.create(
            workspace=workspace,
            version=(latest["v"] or 0) + 1,
            email=values["email"],
            phone=values["phone"],
            company=values["company"],
            verifier=verifier,
            catch_all_policy=policy,
            min_email_status=EmailStatus(status),
            changed_by=changed_by[:64],
        )
    if [AUTO] in values.values():
        auto_orders_refresh(workspace=workspace)
    return config


def auto_orders_refresh(*, workspace: Workspace) -> list[AutoOrder]:
    """Re-ranks every `auto` data point of the workspace from its recent call records (or the
    operator's, while it has too few) and stores the order with its reasons."""
    config = waterfall_config_current(workspace_id=workspace.pk)
    if config is None:
        return []
    saved = []
    for data_point in ORDERED_DATA_POINTS:
        if getattr(config, str(data_point)) != [AUTO]:
            continue
        history = auto_ranking_history(
            workspace_id=workspace.pk,
            data_point=data_point,
            providers=operator_default().orders[data_point],
        )
        reasons = ranking.rank(history, prior_calls=settings.SLUICE_AUTO_ORDER_PRIOR_CALLS)
        if history.source == "operator":
            # Rates only: other workspaces' volumes and spend are theirs.
            reasons = [{**r, "calls": None, "hits": None, "cost": None} for r in reasons]
        order, _ = AutoOrder.objects.update_or_create(
            workspace=workspace,
            data_point=str(data_point),
            defaults={
                "order": [r["provider"] for r in reasons],
                "reasons": reasons,
                "source": history.source,
            },
        )
        saved.append(order)
    return saved


def auto_orders_refresh_all() -> int:
    """Beat: re-ranks every workspace whose current configuration uses `auto`."""
    refreshed = 0
    workspace_ids = WaterfallConfig.objects.values_list("workspace_id", flat=True).distinct()
    for workspace in Workspace.objects.filter(pk__in=workspace_ids).order_by("pk"):
        refreshed += len(auto_orders_refresh(workspace=workspace))
    return refreshed
