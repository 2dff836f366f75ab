from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from enrichment.models import Workflow, new_workflow_id
from providers.models import ProviderCall
from tests.factories import WorkspaceFactory


class WorkflowFactory(DjangoModelFactory):
    class Meta:
        model = Workflow

    id = factory.LazyAttribute(lambda o: new_workflow_id(o.kind))
    workspace = factory.SubFactory(WorkspaceFactory)
    kind = Workflow.Kind.BULK
    enrichment_type = "partial"
    deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))


class ProviderCallFactory(DjangoModelFactory):
    class Meta:
        model = ProviderCall

    provider = "sandbox"
    data_point = "email"
    outcome = "found"
    latency_ms = 40
    created_at = factory.LazyFunction(timezone.now)
