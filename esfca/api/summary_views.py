"""API of the monthly summaries and the bank review (api-contract.md, "Monthly summaries"
and "Bank review"), plus the bank portfolio (an extension).

Thin: parse, check who may act, call one selector or service, render. Tenant rules:
a firm or summary the caller may not see is a 404; an action its role may not take on
something it can see is a 403. Domain refusals (``EsfcaError``) are turned into the
contract's error body by the API's exception handler.
"""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from esfca.models import SummaryReview
from esfca.security import portfolio_download_audit, summary_download_audit
from esfca.summaries import documents, figures, formatting, reviews, services
from exporters.selectors import banks_overseen_by, banks_reviewed_by, user_oversees_reviews

from .serializers import ErrorOut
from .views import ApiView as APIView

ERRORS = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    409: "invalid_state",
}


def errors(*statuses: int) -> dict:
    return {code: OpenApiResponse(ErrorOut, description=ERRORS[code]) for code in statuses}


class FormatParameterNegotiation(BaseContentNegotiation):
    """``?format=`` names the document to build here, not a DRF renderer: always JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _attachment(content: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


STATUSES = "draft, filed, accepted or returned"
FLAG_SCHEMA = inline_serializer(
    "SummaryFlag",
    {
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "object": serializers.CharField(),
        "rule": serializers.IntegerField(allow_null=True, help_text="item of rules.md §6"),
    },
)
SUMMARY_SCHEMA = inline_serializer(
    "MonthlySummary",
    {
        "id": serializers.IntegerField(allow_null=True),
        "firm": serializers.IntegerField(),
        "month": serializers.CharField(),
        "status": serializers.CharField(help_text=STATUSES),
        "revision": serializers.IntegerField(),
        "sha256": serializers.CharField(allow_null=True),
        "currencies": serializers.ListField(child=serializers.DictField()),
        "flags": FLAG_SCHEMA.__class__(many=True),
        "reviews": serializers.ListField(
            child=serializers.DictField(),
            help_text="one per bank holding the firm's accounts: bank, status, comment",
        ),
        "revisions": serializers.ListField(child=serializers.DictField()),
    },
)
REVIEW_ROW = inline_serializer(
    "ReviewRow",
    {
        "id": serializers.IntegerField(help_text="the bank's slice (its review)"),
        "summary": serializers.IntegerField(),
        "firm": serializers.IntegerField(),
        "firm_name": serializers.CharField(),
        "month": serializers.CharField(),
        "bank": serializers.CharField(),
        "revision": serializers.IntegerField(),
        "status": serializers.CharField(help_text="the slice's: filed, accepted, returned, closed"),
        "summary_status": serializers.CharField(help_text=STATUSES),
        "sha256": serializers.CharField(),
        "filed_at": serializers.DateTimeField(),
        "flags": FLAG_SCHEMA.__class__(many=True),
    },
)
REVIEW_PAGE = inline_serializer(
    "PaginatedReviewRow",
    {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": REVIEW_ROW.__class__(many=True),
    },
)
DECISION_OUT = inline_serializer(
    "ReviewDecisionOut",
    {
        "id": serializers.IntegerField(),
        "summary": serializers.IntegerField(),
        "firm": serializers.IntegerField(),
        "month": serializers.CharField(),
        "bank": serializers.CharField(),
        "revision": serializers.IntegerField(),
        "status": serializers.CharField(help_text="the slice's: accepted or returned"),
        "summary_status": serializers.CharField(help_text=STATUSES),
        "comment": serializers.CharField(),
        "decided_at": serializers.DateTimeField(),
    },
)
PORTFOLIO_SCHEMA = inline_serializer(
    "BankPortfolio",
    {
        "bank": serializers.CharField(),
        "bank_name": serializers.CharField(),
        "month": serializers.CharField(),
        "due_date": serializers.DateField(),
        "firms": serializers.ListField(child=serializers.DictField()),
    },
)
DOCUMENT = {
    (200, documents.CSV_TYPE): OpenApiTypes.BINARY,
    (200, documents.XLSX_TYPE): OpenApiTypes.BINARY,
    (200, documents.PDF_TYPE): OpenApiTypes.BINARY,
}


class SummaryView(APIView):
    # A firm's month; no docstring, which drf-spectacular would print on each endpoint.
    not_found = "No such firm."


class SummaryDetailView(SummaryView):
    @extend_schema(
        summary="A firm's monthly summary (live while a draft, frozen once filed)",
        parameters=[
            OpenApiParameter("revision", OpenApiTypes.INT, description="an earlier revision"),
            OpenApiParameter(
                "revaluation",
                OpenApiTypes.BOOL,
                description="add the ESFCAs' PKR value and unrealised FX at month end",
            ),
        ],
        responses={200: SUMMARY_SCHEMA, **errors(400, 401, 404)},
    )
    def get(self, request, firm_id: int, month: str):
        firm = self.visible_firm(firm_id)
        first = formatting.month_parse(month)
        revision = request.query_params.get("revision")
        if revision is not None and not revision.isdigit():
            raise ValidationError({"revision": ["Give a revision number."]})
        revalue = request.query_params.get("revaluation", "").lower() in ("1", "true", "yes")
        try:
            payload = figures.summary_detail(
                firm=firm,
                month=first,
                revision=int(revision) if revision else None,
                with_revaluation=revalue,
                banks=self.slice_of(firm),
            )
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        return Response(payload)


class SummaryFileView(SummaryView):
    @extend_schema(
        summary="File the month (finance officer): freeze the figures with their SHA-256",
        request=None,
        responses={200: SUMMARY_SCHEMA, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request, firm_id: int, month: str):
        firm = self.visible_firm(firm_id)
        first = formatting.month_parse(month)
        self.require_operator(firm, "Only the firm's finance officer files its summaries.")
        services.summary_file(firm=firm, month=first, actor=request.user)
        return Response(figures.summary_detail(firm=firm, month=first))


class SummaryDownloadView(SummaryView):
    content_negotiation_class = FormatParameterNegotiation
    formats = {
        "csv": (documents.summary_csv, documents.CSV_TYPE),
        "xlsx": (documents.summary_xlsx, documents.XLSX_TYPE),
        "pdf": (documents.summary_pdf, documents.PDF_TYPE),
    }

    @extend_schema(
        summary="The summary as a CSV, XLSX or PDF attachment",
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=["csv", "xlsx", "pdf"]),
            OpenApiParameter("revision", OpenApiTypes.INT),
        ],
        responses={**DOCUMENT, **errors(400, 401, 404)},
    )
    def get(self, request, firm_id: int, month: str):
        firm = self.visible_firm(firm_id)
        first = formatting.month_parse(month)
        kind = request.query_params.get("format", "")
        if kind not in self.formats:
            raise ValidationError({"format": ["Choose csv, xlsx or pdf."]})
        revision = request.query_params.get("revision")
        if revision is not None and not revision.isdigit():
            raise ValidationError({"revision": ["Give a revision number."]})
        try:
            payload = figures.summary_detail(
                firm=firm,
                month=first,
                revision=int(revision) if revision else None,
                banks=self.slice_of(firm),
            )
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        render, content_type = self.formats[kind]
        summary_download_audit(request, firm, payload, kind)
        return _attachment(render(payload), content_type, documents.filename(payload, kind))


class ReviewPagination(PageNumberPagination):
    page_size = 50


class ReviewListView(APIView):
    @extend_schema(
        summary="The reviewer's bank's slices of filed summaries (filter by status)",
        parameters=[
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=["filed", "accepted", "returned", "closed"]
            )
        ],
        request=None,
        responses={200: REVIEW_PAGE, **errors(400, 401, 403)},
    )
    def get(self, request):
        if not user_oversees_reviews(request.user):
            raise PermissionDenied("Only bank reviewers see the review queue.")
        status = request.query_params.get("status") or None
        allowed = set(SummaryReview.Status.values)
        if status is not None and status not in allowed:
            raise ValidationError({"status": [f"Choose one of {', '.join(sorted(allowed))}."]})
        paginator = ReviewPagination()
        page = paginator.paginate_queryset(
            reviews.review_queue(user=request.user, status=status), request, view=self
        )
        return paginator.get_paginated_response(reviews.review_rows(page))


class ReviewDecisionView(APIView):
    @extend_schema(
        summary="Accept or return a filed summary (bank reviewer)",
        request=inline_serializer(
            "ReviewDecision",
            {
                "decision": serializers.ChoiceField(choices=["accepted", "returned"]),
                "comment": serializers.CharField(required=False, allow_blank=True),
            },
        ),
        responses={200: DECISION_OUT, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        review = reviews.review_for_user(user=request.user, pk=pk)
        if review is None:
            raise NotFound("No such summary.")
        if not banks_reviewed_by(request.user).filter(pk=review.bank_id).exists():
            raise PermissionDenied("Only a reviewer of the bank decides on its slice.")
        body = request.data if isinstance(request.data, dict) else {}
        decision, comment = body.get("decision"), body.get("comment", "")
        errors = {}
        if not isinstance(decision, str):
            errors["decision"] = ["Choose 'accepted' or 'returned'."]
        if comment is not None and not isinstance(comment, str):
            errors["comment"] = ["Give the comment as text."]
        if errors:
            raise ValidationError(errors)
        review = services.review_decide(
            review=review, decision=decision, comment=comment or "", actor=request.user
        )
        summary = review.summary
        return Response(
            {
                "id": review.pk,
                "summary": summary.pk,
                "firm": summary.firm_id,
                "month": formatting.month_label(summary.month),
                "bank": review.bank.code,
                "revision": summary.revision,
                "status": review.status,
                "summary_status": summary.status,
                "comment": review.comment,
                "decided_at": formatting.local_iso(review.decided_at),
            }
        )


class BankPortfolioView(APIView):
    content_negotiation_class = FormatParameterNegotiation

    @extend_schema(
        summary="Every firm of a bank for a month: totals, retention ratio, flags, filing",
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "xlsx"])],
        responses={
            (200, "application/json"): PORTFOLIO_SCHEMA,
            (200, documents.CSV_TYPE): OpenApiTypes.BINARY,
            (200, documents.XLSX_TYPE): OpenApiTypes.BINARY,
            **errors(400, 401, 404),
        },
    )
    def get(self, request, code: str, month: str):
        bank = banks_overseen_by(request.user).filter(code=code).first()
        if bank is None:
            raise NotFound("No such bank.")
        first = formatting.month_parse(month)
        kind = request.query_params.get("format") or "json"
        if kind not in ("json", "csv", "xlsx"):
            raise ValidationError({"format": ["Choose json, csv or xlsx."]})
        data = reviews.bank_portfolio(bank=bank, month=first)
        if kind == "json":
            return Response(data)
        name = f"esfca-portfolio-{bank.code}-{data['month']}.{kind}"
        portfolio_download_audit(request, bank, data["month"], kind)
        if kind == "csv":
            return _attachment(documents.portfolio_csv(data), documents.CSV_TYPE, name)
        return _attachment(documents.portfolio_xlsx(data), documents.XLSX_TYPE, name)
