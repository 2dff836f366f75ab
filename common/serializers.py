"""Serializer fields shared by every app's API layer."""

from typing import Any

from rest_framework import serializers


class BlankAsNullCharField(serializers.CharField):
    """A text column that stores "" for unknown, rendered as null as the public API expects."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:
        return super().to_representation(value) if value else None
