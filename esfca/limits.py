"""What a request may send, refused before it costs memory (api-contract.md 1.1).

- A request body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (1 MiB) is answered 413 unread: the
  contract's ``payload_too_large`` under ``/api/``, a page elsewhere. A file upload's body
  may also carry the file: up to ``ESFCA_IMPORT_MAX_BYTES`` more.
- An uploaded file is counted as it streams in (``FileSizeLimitHandler``); past
  ``ESFCA_IMPORT_MAX_BYTES`` the rest is dropped and the form says the file is too large.
"""

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import JsonResponse
from django.shortcuts import render

from .api.exceptions import API_PREFIX, payload_too_large_body


def body_limit(request) -> int | None:
    """The largest body this request may have (None: no limit)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and request.content_type == "multipart/form-data":
        limit += settings.ESFCA_IMPORT_MAX_BYTES
    return limit


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def too_large(request, limit: int | None = None):
    """The 413 answer: the error body under ``/api/``, a page that says the limit elsewhere."""
    limit = body_limit(request) if limit is None else limit
    if request.path.startswith(API_PREFIX):
        return JsonResponse(payload_too_large_body(limit), status=413)
    upload = request.content_type == "multipart/form-data"
    context = {"limit": limit, "upload": upload, "file_limit": settings.ESFCA_IMPORT_MAX_BYTES}
    return render(request, "413.html", context, status=413)


class RequestBodyLimitMiddleware:
    """Refuses a body over ``body_limit`` by its declared length, before anything reads it.
    (Django's own ``RequestDataTooBig``, raised when form fields read past the limit, is a
    413 too: ``esfca.api.exceptions.handler400`` and the API's exception handler.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = body_limit(request)
        if limit is not None and _content_length(request) > limit:
            return too_large(request, limit)
        return self.get_response(request)


class TooLargeUpload(UploadedFile):
    """What is left of a file dropped for its size: its name and the bytes counted."""

    too_large = True

    def __init__(self, name: str, content_type: str, size: int):
        super().__init__(io.BytesIO(), name, content_type, size)


class FileSizeLimitHandler(FileUploadHandler):
    """First upload handler: passes each chunk on while the file is within
    ``ESFCA_IMPORT_MAX_BYTES``; past it, drops the rest and completes the file as a
    ``TooLargeUpload`` (the handlers after it never see a byte more)."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.ESFCA_IMPORT_MAX_BYTES:
            return None
        return raw_data

    def file_complete(self, file_size):
        if self.received > settings.ESFCA_IMPORT_MAX_BYTES:
            return TooLargeUpload(self.file_name, self.content_type, self.received)
        return None
