"""The renderings of a workflow, each written once: the status document (status and cancel),
a job row (jobs), and the data of an `enrichment.completed` event (webhooks)."""

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api import timestamp_ms
from common.serializers import BlankAsNullCharField
from enrichment import selectors
from enrichment.models import Workflow, WorkflowItem

# Unbound, so shared: DateTimeField renders without its serializer (USE_TZ, the ISO format).
_DATETIME_FIELD = serializers.DateTimeField()


def _datetime(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME_FIELD.to_representation(value)


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


class _WorkflowBaseSerializer(serializers.Serializer):
    workflow_id = serializers.CharField(source="pk")
    status = serializers.CharField()
    total = serializers.IntegerField()
    processed = serializers.IntegerField()
    found_emails = serializers.IntegerField()
    found_phones = serializers.IntegerField()
    credits_reserved = serializers.IntegerField()


class WorkflowJobSerializer(_WorkflowBaseSerializer):
    kind = serializers.CharField()
    progress = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class WorkflowSummarySerializer(serializers.Serializer):
    found = serializers.IntegerField(source="completed")
    not_found = serializers.IntegerField()
    # The metaclass moves declared fields off the class, so this does not shadow
    # Serializer.errors at run time; the stubs cannot know that.
    errors = serializers.IntegerField(source="failed")  # type: ignore[assignment]
    skipped = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    skipped_existing = serializers.IntegerField()
    found_emails = serializers.IntegerField()
    found_phones = serializers.IntegerField()


class PersonResultSerializer(serializers.Serializer):
    """A finished person run's answer: the lead as it now stands."""

    lead_id = serializers.CharField(source="lead.pk")
    status = serializers.CharField()
    full_name = BlankAsNullCharField(source="lead.full_name")
    first_name = BlankAsNullCharField(source="lead.first_name")
    last_name = BlankAsNullCharField(source="lead.last_name")
    email = serializers.CharField(source="lead.email", allow_null=True)
    email_status = BlankAsNullCharField(source="lead.email_status")
    phone = serializers.CharField(source="lead.phone", allow_null=True)
    linkedin_url = serializers.CharField(source="lead.linkedin_url", allow_null=True)
    title = BlankAsNullCharField(source="lead.title")
    company = BlankAsNullCharField(source="lead.company_name")
    enrichment_type = serializers.CharField(source="workflow.enrichment_type")
    provider = BlankAsNullCharField()


class WorkflowStatusSerializer(_WorkflowBaseSerializer):
    """The status document (the SDK's WorkflowStatusResponse, plus our summary and credits)."""

    kind = serializers.CharField()
    progress = serializers.IntegerField()
    completed = serializers.IntegerField()
    # Cleanlist counts every lead that yielded nothing as failed; the split is in `summary`.
    failed = serializers.SerializerMethodField()
    enrichment_type = serializers.CharField()
    lead_list_id = serializers.CharField(allow_null=True)
    summary = WorkflowSummarySerializer(source="*")
    result = serializers.SerializerMethodField()
    credits_charged = serializers.SerializerMethodField()
    credits_refunded = serializers.SerializerMethodField()
    refund_status = serializers.CharField()
    refund_message = serializers.SerializerMethodField()
    waterfall_version = serializers.IntegerField(
        allow_null=True,
        help_text="The workspace's waterfall configuration version the run uses (0: the "
        "operator's defaults; null until its first chunk ran). GET /waterfall shows it.",
    )
    error = BlankAsNullCharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    timestamp_ms = serializers.SerializerMethodField()

    def to_representation(self, instance: Workflow) -> dict[str, Any]:
        """The fields above, written out: a status poll is the API's most frequent request,
        and DRF's generic rendering (a deep copy of ~40 field objects per document) cost more
        than reading the workflow. The fields stay declared for the schema; a test holds this
        equal to the generic rendering."""
        workflow = instance
        return {
            "workflow_id": str(workflow.pk),
            "status": str(workflow.status),
            "total": workflow.total,
            "processed": workflow.processed,
            "found_emails": workflow.found_emails,
            "found_phones": workflow.found_phones,
            "credits_reserved": workflow.credits_reserved,
            "kind": str(workflow.kind),
            "progress": workflow.progress,
            "completed": workflow.completed,
            "failed": self.get_failed(workflow),
            "enrichment_type": str(workflow.enrichment_type),
            "lead_list_id": _text_or_none(workflow.lead_list_id),
            "summary": {
                "found": workflow.completed,
                "not_found": workflow.not_found,
                "errors": workflow.failed,
                "skipped": workflow.skipped,
                "cancelled": workflow.cancelled,
                "skipped_existing": workflow.skipped_existing,
                "found_emails": workflow.found_emails,
                "found_phones": workflow.found_phones,
            },
            "result": self.get_result(workflow),
            "credits_charged": self.get_credits_charged(workflow),
            "credits_refunded": self.get_credits_refunded(workflow),
            "refund_status": str(workflow.refund_status),
            "refund_message": self.get_refund_message(workflow),
            "waterfall_version": workflow.waterfall_version,
            "error": workflow.error or None,
            "created_at": _datetime(workflow.created_at),
            "started_at": _datetime(workflow.started_at),
            "finished_at": _datetime(workflow.finished_at),
            "timestamp_ms": self.get_timestamp_ms(workflow),
        }

    def get_failed(self, workflow: Workflow) -> int:
        return workflow.not_found + workflow.failed

    @extend_schema_field(PersonResultSerializer(allow_null=True))
    def get_result(self, workflow: Workflow) -> dict[str, Any] | None:
        item: WorkflowItem | None = selectors.workflow_person_item(workflow)
        return PersonResultSerializer(item).data if item else None

    # Settled amounts exist once the run ended; before that they read 0.
    def get_credits_charged(self, workflow: Workflow) -> int:
        return workflow.credits_charged if workflow.is_terminal else 0

    def get_credits_refunded(self, workflow: Workflow) -> int:
        return workflow.credits_refunded if workflow.is_terminal else 0

    def get_timestamp_ms(self, workflow: Workflow) -> int:
        return timestamp_ms()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_refund_message(self, workflow: Workflow) -> str | None:
        return selectors.REFUND_MESSAGES.get(workflow.refund_status)


class WorkflowEventDataSerializer(_WorkflowBaseSerializer):
    """The `data` of an `enrichment.completed` webhook event: raw counts, as settled."""

    enrichment_type = serializers.CharField()
    lead_list_id = serializers.CharField(allow_null=True)
    completed = serializers.IntegerField()
    not_found = serializers.IntegerField()
    failed = serializers.IntegerField()
    credits_charged = serializers.IntegerField()
    credits_refunded = serializers.IntegerField()
    refund_status = serializers.CharField()
