"""Serializer fields shared by every app's API layer."""

from typing import Any

from rest_framework import serializers


class BlankAsNullCharField(serializers.CharField):
    """A text column that stores "" for unknown, rendered as null as the public API expects."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> str | None:
        # A serializer renders a None attribute as null without calling to_representation.
        value = super().get_attribute(instance)
        return value if value else None
