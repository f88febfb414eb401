"""One place that turns every refusal into the contract's error body.

``{"error": {"code": "<code>", "message": "<plain sentence>", "details": {...}}}``

Domain refusals (``exporters.errors.DomainError``: ledger, ESFCA and onboarding) carry their own
code and status; DRF's exceptions are mapped by class. Anything unexpected is logged and
answered with a JSON 500 of the same shape (the API never leaks a traceback page), and the
Django-level handlers below make a 404/400/500 under ``/api/`` JSON too. The database away
(its connection lost or refused: ``esfca.database``) is no 500 but a 503
``service_unavailable``, in JSON under ``/api/`` and as a page elsewhere.
"""

import logging
import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import Http404, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from exporters.errors import DomainError

from ..database import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, connection_lost

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

# DRF exception class → (contract code, plain message when DRF's own is too terse).
_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "validation_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "not_authenticated"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
]


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": _text(message), "details": details or {}}}


def payload_too_large_body(limit: int) -> dict:
    """413 ``payload_too_large`` (api-contract.md 1.1): the body's limit in bytes."""
    return error_body(
        "payload_too_large",
        f"The request body is larger than {limit:,} bytes; send at most that.",
        {"max_bytes": limit},
    )


def _text(value) -> str:
    """Error messages may echo input: keep lone surrogates (``"\\ud800"``) encodable."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _plain(detail):
    """DRF's ErrorDetail tree as plain JSON (strings, lists, dicts)."""
    if isinstance(detail, dict):
        return {_text(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list | tuple):
        return [_plain(item) for item in detail]
    return _text(detail)


def _field_messages(detail) -> dict:
    """Validation details as ``field → [messages]`` (a bare list becomes non_field_errors)."""
    plain = _plain(detail)
    if isinstance(plain, dict):
        return {k: v if isinstance(v, list | dict) else [v] for k, v in plain.items()}
    return {"non_field_errors": plain if isinstance(plain, list) else [plain]}


def _jsonable(details: dict) -> dict:
    """Domain error details may hold Decimals or dates: send them as strings."""
    out = {}
    for key, value in (details or {}).items():
        if isinstance(value, dict):
            out[_text(key)] = _jsonable(value)
        elif isinstance(value, list | tuple):
            out[_text(key)] = [v if isinstance(v, int) else _text(v) for v in value]
        elif value is None or isinstance(value, bool | int):
            out[_text(key)] = value
        else:
            out[_text(key)] = _text(value)
    return out


def _drf_code(exc: exceptions.APIException) -> str:
    for cls, code in _DRF_CODES:
        if isinstance(exc, cls):
            return code
    return str(getattr(exc, "default_code", "error"))


def _drf_response(exc: exceptions.APIException) -> Response:
    code = _drf_code(exc)
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        return Response(
            error_body(code, "Some fields are invalid.", _field_messages(exc.detail)),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, exceptions.ParseError):
        message = str(exc.detail)
        return Response(
            error_body(code, "The request body is not valid JSON.", {"body": [message]}),
            status=status.HTTP_400_BAD_REQUEST,
        )
    detail = exc.detail
    message = str(detail) if not isinstance(detail, dict | list) else exc.default_detail
    status_code = exc.status_code
    if code == "not_authenticated":
        status_code = status.HTTP_401_UNAUTHORIZED
    return Response(error_body(code, str(message)), status=status_code, headers=headers)


def api_exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every error in the contract's shape."""
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(
            error_body(exc.code, exc.message, _jsonable(exc.details)), status=exc.status
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        return _drf_response(exc)
    if isinstance(exc, RequestDataTooBig):  # a form-encoded body read past the limit
        set_rollback()
        return Response(
            payload_too_large_body(settings.DATA_UPLOAD_MAX_MEMORY_SIZE),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, RecursionError):
        # A body nested thousands deep, parsed by a view with DRF's stock JSON parser.
        logger.warning("API input too deeply nested: %s", exc)
        set_rollback()
        return Response(
            error_body("validation_error", "The request body is nested too deeply.", {}),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, DataError):
        # A value the database cannot hold got past validation: the input is at fault.
        logger.warning("API input rejected by the database: %s", exc)
        set_rollback()
        return Response(
            error_body("validation_error", "A value is out of range.", {}),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if connection_lost(exc):
        logger.warning("API request %s while the database is away: %s", context, exc)
        set_rollback()
        return Response(
            error_body("service_unavailable", UNAVAILABLE_MESSAGE),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    logger.exception("Unexpected error in the API", exc_info=exc)
    set_rollback()
    return Response(
        error_body("server_error", "The server could not process this request."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


# --- Django-level handlers (config/urls.py): JSON under /api/, the stock pages elsewhere ----


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def handler400(request, exception=None):
    if isinstance(exception, RequestDataTooBig):  # form fields read past the body's limit
        from esfca.limits import too_large  # it answers with this module's error body

        return too_large(request)
    if _is_api(request):
        return JsonResponse(
            error_body("validation_error", "The request could not be understood."), status=400
        )
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api(request):
        return JsonResponse(
            error_body("permission_denied", "You may not perform this action."), status=403
        )
    return defaults.permission_denied(request, exception)


def handler404(request, exception=None):
    if _is_api(request):
        return JsonResponse(
            error_body("not_found", "Nothing was found at this address."), status=404
        )
    return defaults.page_not_found(request, exception)


def database_unavailable(request):
    """503 while the database is away: JSON under ``/api/``, elsewhere a page rendered
    without the request (its user and session live in the database)."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _is_api(request):
        body = error_body("service_unavailable", UNAVAILABLE_MESSAGE)
        return JsonResponse(body, status=503, headers=headers)
    return HttpResponse(loader.render_to_string("503.html"), status=503, headers=headers)


def handler500(request):
    """Anything no view answered; the database away (raised by a middleware, a page, the
    API outside its views) answers 503."""
    if connection_lost(sys.exception()):
        return database_unavailable(request)
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "The server could not process this request."), status=500
        )
    return defaults.server_error(request)
