"""Factories shared by every app's tests. App-specific factories live in
`tests/<app>/factories.py` and build on these."""

import factory
from factory.django import DjangoModelFactory

from accounts.models import ApiKey, Workspace
from accounts.scopes import ALL_SCOPES
from accounts.services import api_key_create


class WorkspaceFactory(DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")


class ApiKeyFactory(DjangoModelFactory):
    """Goes through the service, the only place a key's secret exists; the raw key is left on
    the instance as `raw_key` for the test to send."""

    class Meta:
        model = ApiKey

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Faker("word")
    scopes = list(ALL_SCOPES)

    @classmethod
    def _create(cls, model_class, *, workspace, name, scopes, **kwargs):
        api_key, raw_key = api_key_create(workspace=workspace, name=name, scopes=scopes)
        api_key.raw_key = raw_key
        return api_key
