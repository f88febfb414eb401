"""The API's endpoints: parse, call one service or selector, serialise (design.md).

Every firm-scoped endpoint first finds the firm among those the caller may see (else 404),
then asks whether the caller's role may act on it (else 403), and only then reads the body.
"""

from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, Throttled
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from esfca import lists, lockout
from esfca.second_factor import (
    SecondFactorRefused,
    second_factor_expected,
    second_factor_pass,
    user_onboard,
)
from esfca.security import login_audit
from esfca.services import (
    allocation_create,
    conversion_create,
    firm_account_open,
    movement_correct,
    movement_reverse,
    receipt_record,
    transfer_create,
)
from esfca.tokens import token_expires_at, token_issue, token_revoke
from exporters.models import Bank, Firm, Membership
from exporters.selectors import (
    BankSlice,
    firm_slice_for,
    firm_visible_to,
    firms_visible_to,
    user_can_operate,
)
from exporters.services import bank_create, firm_create
from ledger.fx.selectors import fx_rates
from ledger.fx.services import How, RateWriter, fx_rate_decide, fx_rate_store

from . import selectors
from . import serializers as s
from .authentication import AUTHENTICATION
from .parsers import AsciiJSONRenderer, DecimalJSONParser
from .permissions import DENIED, IsPlatformAdmin

_paginated: dict[type, type] = {}


def paginated(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The contract's page envelope around ``item`` (for the OpenAPI document)."""
    if item not in _paginated:
        _paginated[item] = type(
            f"Paginated{item.__name__}",
            (serializers.Serializer,),
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": item(many=True),
            },
        )
    return _paginated[item]


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    described = {
        400: "validation_error or a domain refusal",
        401: "not_authenticated",
        403: "permission_denied",
        404: "not_found",
        409: "duplicate_reference",
        429: "throttled (with Retry-After, in seconds)",
    }
    return {code: OpenApiResponse(s.ErrorOut, description=described[code]) for code in statuses}


MONTH = OpenApiParameter("month", str, description="YYYY-MM", required=False)


class ApiView(APIView):
    authentication_classes = AUTHENTICATION
    parser_classes = [DecimalJSONParser]
    renderer_classes = [AsciiJSONRenderer]

    # The tenant rules of exporters.selectors in the API's error style (no docstring here:
    # drf-spectacular would print it on every endpoint).
    not_found = None  # the message of a 404 for a firm outside the tenant; None: DRF's own

    def visible_firm(self, pk: int) -> Firm:
        try:
            return firm_visible_to(self.request.user, pk)
        except Firm.DoesNotExist:
            raise NotFound(self.not_found) from None

    def slice_of(self, firm: Firm) -> BankSlice:
        """The part of ``firm`` the caller sees (rules.md §11)."""
        return firm_slice_for(self.request.user, firm)

    def require_operator(self, firm: Firm, message: str = DENIED) -> None:
        if not user_can_operate(self.request.user, firm):
            self.permission_denied(self.request, message=message)

    def require(self, permission) -> None:
        if not permission().has_permission(self.request, self):
            self.permission_denied(self.request, message=DENIED)

    def parse(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def page(self, queryset, serializer_class) -> Response:
        paginator = PageNumberPagination()
        items = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(items, many=True).data)


class FirmView(ApiView):
    """Endpoints under /firms/{id}/: 404 outside the caller's tenant, 403 for other roles."""

    def operated_firm(self, pk: int) -> Firm:
        firm = self.visible_firm(pk)
        self.require_operator(firm)
        return firm

    def administered_firm(self, pk: int):
        firm = self.visible_firm(pk)
        self.require(IsPlatformAdmin)
        return firm

    def month(self):
        return s.month_param(self.request.query_params.get("month"))

    def movement_page(self, pk: int, kind: lists.Movements, serializer_class) -> Response:
        """A page of the firm's movements of ``kind``, oldest first, in ``?month=`` if asked."""
        firm = self.visible_firm(pk)
        rows = lists.movements(
            kind, firm, month=self.month(), with_accounts=True, banks=self.slice_of(firm)
        )
        return self.page(rows, serializer_class)


# --- auth -------------------------------------------------------------------------------------


class SignInLocked(Throttled):
    """429 ``throttled`` with Retry-After: the username or the address is locked out."""

    def __init__(self):
        APIException.__init__(self, lockout.lockout_message())
        self.wait = lockout.retry_after()


class TokenView(ApiView):
    # POST: anyone, unauthenticated (a stale Authorization header must not stop a sign-in);
    # DELETE: the caller, by token or session. (A comment: drf-spectacular prints docstrings.)

    def revoking(self) -> bool:
        # No request yet while drf-spectacular builds its mock one: no authenticators either.
        return getattr(self.request, "method", None) == "DELETE"

    def get_authenticators(self):
        return super().get_authenticators() if self.revoking() else []

    def get_permissions(self):
        return super().get_permissions() if self.revoking() else [AllowAny()]

    @extend_schema(
        request=s.TokenRequest,
        responses={200: s.TokenResponse, **errors(400, 429)},
        auth=[],
        summary="Exchange a username and password for an API token",
        description=(
            "The token lives API_TOKEN_LIFETIME_HOURS (default 24) from its creation; every "
            "sign-in of the same user gets the same token until then. 10 failed sign-ins for "
            "a username or from an address within 15 minutes lock it out for 15 minutes (429 "
            "with Retry-After), the right password included. A user who has enrolled a second "
            "factor (bank reviewers and platform admins must) also sends `otp`; missing or "
            "wrong → 400 validation_error under details.otp, and a wrong one counts as a "
            "failed sign-in."
        ),
    )
    def post(self, request):
        data = self.parse(s.TokenRequest)
        user = authenticate(request, username=data["username"], password=data["password"])
        if lockout.is_locked_out(request):
            raise SignInLocked()
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with the credentials given."]}
            )
        if second_factor_expected(user):
            try:
                second_factor_pass(user=user, code=data["otp"])
            except SecondFactorRefused:
                lockout.login_failed(request, user.get_username())
                if lockout.is_locked_out(request):
                    raise SignInLocked() from None
                raise
        token = token_issue(user=user)
        login_audit(request, user)  # a token handed out is a sign-in
        return Response(
            s.TokenResponse({"token": token.key, "expires": token_expires_at(token)}).data
        )

    @extend_schema(
        request=None,
        responses={204: OpenApiResponse(description="The token is revoked."), **errors(401)},
        summary="Revoke the caller's API token",
        description="Revokes every API token of the caller; a new sign-in issues a new one.",
    )
    def delete(self, request):
        token_revoke(user=request.user, actor=request.user, reason="revoked_by_owner")
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- onboarding -------------------------------------------------------------------------------


class BanksView(ApiView):
    @extend_schema(operation_id="banks_list", responses={200: paginated(s.BankOut), **errors(401)})
    def get(self, request):
        return self.page(Bank.objects.order_by("code"), s.BankOut)

    @extend_schema(request=s.BankIn, responses={201: s.BankOut, **errors(400, 401, 403, 409)})
    def post(self, request):
        self.require(IsPlatformAdmin)
        bank = bank_create(**self.parse(s.BankIn))
        return Response(s.BankOut(bank).data, status=status.HTTP_201_CREATED)


class FirmsView(ApiView):
    @extend_schema(operation_id="firms_list", responses={200: paginated(s.FirmOut), **errors(401)})
    def get(self, request):
        return self.page(firms_visible_to(request.user).order_by("name", "id"), s.FirmOut)

    @extend_schema(request=s.FirmIn, responses={201: s.FirmOut, **errors(400, 401, 403)})
    def post(self, request):
        self.require(IsPlatformAdmin)
        firm = firm_create(**self.parse(s.FirmIn))
        return Response(s.FirmOut(firm).data, status=status.HTTP_201_CREATED)


class FirmDetailView(FirmView):
    @extend_schema(responses={200: s.FirmOut, **errors(401, 404)})
    def get(self, request, pk: int):
        return Response(s.FirmOut(self.visible_firm(pk)).data)


class FirmAccountsView(FirmView):
    @extend_schema(
        operation_id="firms_accounts_list",
        responses={200: paginated(s.AccountOut), **errors(401, 404)},
    )
    def get(self, request, pk: int):
        firm = self.visible_firm(pk)
        return self.page(selectors.firm_bank_accounts(firm, self.slice_of(firm)), s.AccountOut)

    @extend_schema(
        request=s.AccountIn, responses={201: s.AccountOut, **errors(400, 401, 403, 404, 409)}
    )
    def post(self, request, pk: int):
        firm = self.administered_firm(pk)
        account = firm_account_open(firm=firm, actor=request.user, **self.parse(s.AccountIn))
        return Response(s.AccountOut(account).data, status=status.HTTP_201_CREATED)


class FirmBalancesView(FirmView):
    @extend_schema(responses={200: s.BalancesOut, **errors(401, 404)})
    def get(self, request, pk: int):
        firm = self.visible_firm(pk)
        accounts = selectors.firm_bank_accounts(firm, self.slice_of(firm))
        return Response(s.BalancesOut({"accounts": accounts}).data)


class UsersView(ApiView):
    @extend_schema(request=s.UserIn, responses={201: s.UserOut, **errors(400, 401, 403, 409)})
    def post(self, request):
        self.require(IsPlatformAdmin)
        data = self.parse(s.UserIn)
        user, enrolment = user_onboard(actor=request.user, **data)
        reviewer = data["role"] == Membership.Role.BANK_REVIEWER
        body = {
            "id": user.pk,
            "username": user.username,
            "role": data["role"],
            "firm": None if reviewer else data["firm"].pk,
            "bank": data["bank"].code if reviewer else None,
            "otp_uri": enrolment.uri if enrolment else None,
            "recovery_codes": enrolment.recovery_codes if enrolment else [],
        }
        return Response(s.UserOut(body).data, status=status.HTTP_201_CREATED)


# --- rates ------------------------------------------------------------------------------------


class FxRatesView(ApiView):
    @extend_schema(
        operation_id="fx_rates_list",
        parameters=[s.FxRateQuery],
        responses={200: paginated(s.FxRateOut), **errors(400, 401)},
    )
    def get(self, request):
        query = s.FxRateQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rates = fx_rates(
            currency=params.get("currency"), on=params.get("date"), source=params.get("source")
        )
        return self.page(rates, s.FxRateOut)

    @extend_schema(
        request=s.FxRateIn,
        responses={
            201: OpenApiResponse(
                s.FxRateOut,
                description="stored: status active, or held when the move guard holds it "
                "(rules.md §10)",
            ),
            **errors(400, 401, 403, 409),
        },
        description="Platform admins only (rules.md §10); every rate goes through the move "
        "guard and is audited.",
    )
    def post(self, request):
        self.require(IsPlatformAdmin)
        data = self.parse(s.FxRateIn)
        stored = fx_rate_store(
            currency=data["currency"],
            on=data["date"],
            buy=data["buy"],
            sell=data["sell"],
            source=data["source"],
            by=RateWriter(How.API, request.user),
            note=f"posted through the API by {request.user.username}",
            refuse_existing=True,
        )
        return Response(s.FxRateOut(stored.rate).data, status=status.HTTP_201_CREATED)


class FxRateDecisionView(ApiView):
    """A platform admin approves or rejects a rate held by the move guard (rules.md §10)."""

    approve: bool

    def post(self, request, pk: int):
        self.require(IsPlatformAdmin)
        rate = fx_rate_decide(
            rate_id=pk, approve=self.approve, by=RateWriter(How.API, request.user)
        )
        return Response(s.FxRateOut(rate).data)


def _decision_view(name: str, approve: bool, summary: str) -> type[FxRateDecisionView]:
    schema = extend_schema(
        operation_id=f"fx_rates_{name}",
        request=None,
        responses={
            200: OpenApiResponse(s.FxRateOut, description="the rate with its new status"),
            **errors(401, 403, 404),
            409: OpenApiResponse(s.ErrorOut, description="invalid_state: the rate is not held"),
        },
        summary=summary,
    )
    view = type(f"FxRate{name.title()}View", (FxRateDecisionView,), {"approve": approve})
    return extend_schema_view(post=schema)(view)


FxRateApproveView = _decision_view(
    "approve", True, "Approve a held rate: it becomes active (platform admin)"
)
FxRateRejectView = _decision_view(
    "reject", False, "Reject a held rate: it is never used (platform admin)"
)


# --- money movements (the firm's finance officer) ---------------------------------------------


class FirmReceiptsView(FirmView):
    @extend_schema(
        operation_id="firms_receipts_list",
        parameters=[MONTH],
        responses={200: paginated(s.ReceiptOut), **errors(400, 401, 404)},
    )
    def get(self, request, pk: int):
        return self.movement_page(pk, lists.RECEIPTS, s.ReceiptOut)

    @extend_schema(
        request=s.ReceiptIn,
        responses={
            201: s.ReceiptOut,
            200: OpenApiResponse(s.ReceiptOut, description="a replay: the stored receipt"),
            **errors(400, 401, 403, 404, 409),
        },
    )
    def post(self, request, pk: int):
        firm = self.operated_firm(pk)
        receipt, created = receipt_record(firm=firm, actor=request.user, **self.parse(s.ReceiptIn))
        return Response(s.ReceiptOut(receipt).data, status=201 if created else 200)


class FirmAllocationsView(FirmView):
    @extend_schema(
        operation_id="firms_allocations_list",
        parameters=[MONTH],
        responses={200: paginated(s.AllocationOut), **errors(400, 401, 404)},
    )
    def get(self, request, pk: int):
        return self.movement_page(pk, lists.ALLOCATIONS, s.AllocationOut)

    @extend_schema(
        request=s.AllocationIn,
        responses={
            201: s.AllocationOut,
            200: OpenApiResponse(s.AllocationOut, description="a replay: the stored allocation"),
            **errors(400, 401, 403, 404, 409),
        },
    )
    def post(self, request, pk: int):
        firm = self.operated_firm(pk)
        allocation, created = allocation_create(
            firm=firm, actor=request.user, **self.parse(s.AllocationIn)
        )
        return Response(s.AllocationOut(allocation).data, status=201 if created else 200)


class FirmConversionsView(FirmView):
    @extend_schema(
        operation_id="firms_conversions_list",
        parameters=[MONTH],
        responses={200: paginated(s.ConversionOut), **errors(400, 401, 404)},
    )
    def get(self, request, pk: int):
        return self.movement_page(pk, lists.CONVERSIONS, s.ConversionOut)

    @extend_schema(
        request=s.ConversionIn,
        responses={201: s.ConversionOut, 200: s.ConversionOut, **errors(400, 401, 403, 404, 409)},
        summary="Sell ESFCA funds for PKR (an extension of the contract)",
    )
    def post(self, request, pk: int):
        firm = self.operated_firm(pk)
        conversion, created = conversion_create(
            firm=firm, actor=request.user, **self.parse(s.ConversionIn)
        )
        return Response(s.ConversionOut(conversion).data, status=201 if created else 200)


class FirmTransfersView(FirmView):
    @extend_schema(
        operation_id="firms_transfers_list",
        parameters=[MONTH],
        responses={200: paginated(s.TransferOut), **errors(400, 401, 404)},
    )
    def get(self, request, pk: int):
        return self.movement_page(pk, lists.TRANSFERS, s.TransferOut)

    @extend_schema(
        request=s.TransferIn,
        responses={201: s.TransferOut, 200: s.TransferOut, **errors(400, 401, 403, 404, 409)},
        summary="Move funds between the firm's own ESFCAs (an extension of the contract)",
    )
    def post(self, request, pk: int):
        firm = self.operated_firm(pk)
        transfer, created = transfer_create(
            firm=firm, actor=request.user, **self.parse(s.TransferIn)
        )
        return Response(s.TransferOut(transfer).data, status=201 if created else 200)


# --- a movement's page, its reversal and its correction (rules.md §9) ------------------------


class MovementView(FirmView):
    # One movement of the firm, of the ``kind`` the route names, its id as ``id_kwarg``. (No
    # docstring: drf-spectacular would print it on every endpoint.)

    kind: str
    movements: lists.Movements
    out: type[serializers.Serializer]
    id_kwarg: str

    def movement(self, firm: Firm, ids: dict):
        try:
            return selectors.firm_movement(
                self.movements, firm, ids[self.id_kwarg], self.slice_of(firm)
            )
        except ObjectDoesNotExist:
            raise NotFound() from None

    def answer(self, body, created: bool) -> Response:
        return Response(body, status=201 if created else 200)


class MovementDetailView(MovementView):
    def get(self, request, pk: int, **ids):
        return Response(self.out(self.movement(self.visible_firm(pk), ids)).data)


class MovementReverseView(MovementView):
    def post(self, request, pk: int, **ids):
        firm = self.operated_firm(pk)
        movement = self.movement(firm, ids)
        reversal, created = movement_reverse(
            firm=firm, actor=request.user, kind=self.kind, movement_id=movement.pk,
            **self.parse(s.ReverseIn),
        )  # fmt: skip
        return self.answer(self.out(reversal).data, created)


class MovementCorrectView(MovementView):
    body: type[serializers.Serializer]  # the kind's s.correct_in

    def post(self, request, pk: int, **ids):
        firm = self.operated_firm(pk)
        movement = self.movement(firm, ids)
        data = self.parse(self.body)
        reversal, new, created = movement_correct(
            firm=firm, actor=request.user, kind=self.kind, movement_id=movement.pk,
            reference=data["reference"], reason=data["reason"], corrected=data[self.kind],
        )  # fmt: skip
        body = {"reversal": self.out(reversal).data, self.kind: self.out(new).data}
        return self.answer(body, created)


REFUSED = {
    400: OpenApiResponse(s.ErrorOut, description="validation_error or insufficient_funds"),
    409: OpenApiResponse(s.ErrorOut, description="duplicate_reference or invalid_state"),
}


@dataclass(frozen=True)
class MovementEndpoints:
    """One kind's routes under ``firms/{id}/<plural>/{<id_kwarg>}/``."""

    plural: str
    id_kwarg: str
    detail: type[MovementView]
    reverse: type[MovementView]
    correct: type[MovementView]


def _documented(view: type[MovementView], name: str, attrs: dict, method: str, **schema):
    """A subclass of ``view`` for one kind (``attrs``), its ``method`` documented."""
    return extend_schema_view(**{method: extend_schema(**schema)})(type(name, (view,), attrs))


def movement_endpoints(
    kind: str, plural: str, id_kwarg: str, movements: lists.Movements, out, body_in
) -> MovementEndpoints:
    """The detail, reverse and correct endpoints of one kind, documented with its bodies."""
    common = {"kind": kind, "movements": movements, "out": out, "id_kwarg": id_kwarg}
    body, answer = s.correct_in(kind, body_in), s.correct_out(kind, out)
    refused = {**errors(401, 403, 404), **REFUSED}
    name = kind.title()
    return MovementEndpoints(
        plural,
        id_kwarg,
        detail=_documented(
            MovementDetailView, f"{name}DetailView", common, "get",
            responses={200: out, **errors(401, 404)},
            summary=f"One {kind}, with its reversal or what it reverses",
        ),
        reverse=_documented(
            MovementReverseView, f"{name}ReverseView", common, "post", request=s.ReverseIn,
            responses={201: out, 200: OpenApiResponse(out, description="a replay"), **refused},
            summary=f"Reverse a {kind} (rules.md §9)",
        ),
        correct=_documented(
            MovementCorrectView, f"{name}CorrectView", {**common, "body": body}, "post",
            request=body,
            responses={201: answer, 200: OpenApiResponse(answer, description="a replay"),
                       **refused},
            summary=f"Correct a {kind}: reverse it and record it again (rules.md §9)",
        ),
    )  # fmt: skip


MOVEMENT_ENDPOINTS = (
    movement_endpoints(
        "receipt", "receipts", "rid", lists.RECEIPTS, s.ReceiptDetailOut, s.ReceiptIn
    ),
    movement_endpoints(
        "allocation", "allocations", "aid", lists.ALLOCATIONS, s.AllocationDetailOut,
        s.AllocationIn,
    ),
    movement_endpoints(
        "conversion", "conversions", "cid", lists.CONVERSIONS, s.ConversionDetailOut,
        s.ConversionIn,
    ),
    movement_endpoints(
        "transfer", "transfers", "tid", lists.TRANSFERS, s.TransferDetailOut, s.TransferIn
    ),
)  # fmt: skip
