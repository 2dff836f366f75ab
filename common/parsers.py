from io import BytesIO

from django.conf import settings
from rest_framework.parsers import JSONParser

from common.exceptions import PayloadTooLarge, ValidationFailed


class LimitedJSONParser(JSONParser):
    """DRF reads JSON bodies straight from the stream, past Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE check; this parser enforces the cap itself (413) and turns
    pathologically deep documents into a 400 instead of a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if declared > limit:
            raise PayloadTooLarge(f"The request body is over {limit} bytes.")
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body is over {limit} bytes.")
        try:
            return super().parse(BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ValidationFailed("The JSON document is nested too deeply.") from None
