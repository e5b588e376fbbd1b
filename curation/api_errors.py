"""One JSON error shape for the whole API: {"detail": "...", "errors": {field: [messages]}}.

Validation errors, from DRF serializers or from services (django ValidationError), are keyed by
the field they are about, nested fields as `rows[3].split`; `detail` repeats the first one so a
client that shows one line still names the field. A 404 says only "Not found." so it never
reveals whether a project exists, and no response carries a Python exception's text.
"""

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

NON_FIELD = "non_field_errors"


def _name(prefix: str, key) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    if key in (NON_FIELD, NON_FIELD_ERRORS):
        return prefix or NON_FIELD
    return f"{prefix}.{key}" if prefix else str(key)


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """Turns nested serializer errors into {"rows[3].split": ["..."]}; empty entries vanish."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        parts = [flatten_errors(value, _name(prefix, key)) for key, value in detail.items()]
    elif isinstance(detail, list) and any(isinstance(v, dict | list) for v in detail):
        parts = [flatten_errors(value, _name(prefix, i)) for i, value in enumerate(detail)]
    else:
        messages = detail if isinstance(detail, list) else [detail]
        parts = [{prefix or NON_FIELD: [str(m) for m in messages]}] if messages else []
    for part in parts:
        for field, messages in part.items():
            out.setdefault(field, []).extend(messages)
    return out


def validation_response(errors: dict[str, list[str]]) -> Response:
    if not errors:
        errors = {NON_FIELD: ["Invalid input."]}
    field, messages = next(iter(errors.items()))
    detail = messages[0] if field == NON_FIELD else f"{field}: {messages[0]}"
    others = sum(len(m) for m in errors.values()) - 1
    if others:
        detail += f" (and {others} more error{'s' if others > 1 else ''})"
    return Response({"detail": detail, "errors": errors}, status=status.HTTP_400_BAD_REQUEST)


def _django_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {_name("", field): list(messages) for field, messages in exc.message_dict.items()}
    return {NON_FIELD: list(exc.messages)}


def exception_handler(exc, context):
    """DRF's handler, with service errors mapped to 400, bare 404s and no exception strings."""
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return validation_response(_django_errors(exc))
    if isinstance(exc, exceptions.ValidationError):
        return validation_response(flatten_errors(exc.detail))
    if isinstance(exc, Http404 | exceptions.NotFound):
        exc = exceptions.NotFound()  # drop the message: it could say what exists
    elif isinstance(exc, exceptions.ParseError):
        exc = exceptions.ParseError("The request body is not valid JSON.")
    elif isinstance(exc, RequestDataTooBig):
        # DRF reads JSON through request.body, where Django enforces the limit (DRF >= 3.17.2).
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        data = {"detail": f"The request body is over {limit} bytes; send smaller requests."}
        return Response(data, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    elif isinstance(exc, IntegrityError):
        # A concurrent request wrote the same unique value between our check and our insert.
        set_rollback()
        data = {"detail": "A concurrent change conflicts with this request; retry it."}
        return Response(data, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)
