"""The error body every API error has (rendered by `common.exceptions.error_payload`), as
serializers for the OpenAPI schema."""

from rest_framework import serializers


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()
    retryable = serializers.BooleanField()
    request_id = serializers.CharField()


class ErrorResponseSerializer(serializers.Serializer):
    error = ErrorBodySerializer()
