"""Arguments and lookups shared by `estimate` and `enrich`."""

from django.core.management.base import CommandError, CommandParser

from accounts.models import Workspace
from accounts.selectors import workspace_find
from common.exceptions import ApplicationError, error_text
from credits import prices
from credits.models import Tool
from credits.prices import EnrichmentType
from credits.services import Estimate, quote_create
from enrichment.models import Workflow
from leads.models import LeadList
from leads.selectors import lead_list_find


def add_list_arguments(parser: CommandParser) -> None:
    parser.add_argument("--workspace", required=True, help="Workspace id or name")
    parser.add_argument("--list", required=True, dest="list_ref", help="List id or name")
    parser.add_argument(
        "--scope",
        default=EnrichmentType.PARTIAL,
        help="partial (emails, default) | phone_only | full (emails and phones)",
    )
    parser.add_argument(
        "--output",
        default=Workflow.Output.SKIP_EXISTING,
        choices=Workflow.Output.values,
        help="skip_existing (default: leads that hold the data are not enriched) | overwrite | "
        "refresh_stale (only missing data and data past its time to live, docs/privacy.md)",
    )


def resolve(*, workspace: str, list_ref: str, scope: str) -> tuple[Workspace, LeadList, str]:
    """(workspace, list, enrichment type) or a CommandError saying what is wrong."""
    try:
        target = workspace_find(ref=workspace)
        lead_list = lead_list_find(workspace=target, ref=list_ref)
        enrichment_type = prices.resolve_enrichment_type(scope=scope)
    except ApplicationError as exc:
        raise command_error(exc) from exc
    return target, lead_list, enrichment_type


def list_estimate(
    *, workspace: Workspace, lead_list: LeadList, enrichment_type: str, output: str
) -> Estimate:
    """The quote POST /credits/estimate gives for enriching this list (tool enrich_list)."""
    return quote_create(
        workspace=workspace,
        tool=Tool.ENRICH_LIST,
        params={"list_id": str(lead_list.pk), "enrichment_type": enrichment_type, "output": output},
    )


def command_error(exc: ApplicationError) -> CommandError:
    return CommandError(error_text(exc))
