"""The second step of signing in (esfca/second_factor.py): the code page, and the enrolment
page that an unenrolled reviewer or admin sees before anything else (QR code, the otpauth URI
and the secret; a code to confirm; the recovery codes shown once)."""

import segno
from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login

from .. import lockout
from ..second_factor import (
    SecondFactorRefused,
    second_factor_enrolled,
    second_factor_verify,
    totp_enrolment_confirm,
    totp_enrolment_start,
    totp_secret,
    totp_uri,
)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_("The 6 digits your authenticator app shows, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class EnrolForm(CodeForm):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_("The 6 digits the app shows for this account now."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


def _next(request) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _locked_out(request):
    """The lockout answer, signed out: after the cool-off the password comes first again."""
    logout(request)
    return lockout.lockout_response(request)


def _passed(request, device) -> None:
    otp_login(request, device)
    request.session.cycle_key()  # a new session id for the now fully signed-in session


@never_cache
@login_required
def second_factor_verify_page(request):
    user = request.user
    if user.is_verified():
        return redirect(_next(request))
    if not second_factor_enrolled(user):
        return redirect(f"{resolve_url('second_factor_enrol')}?{request.GET.urlencode()}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not lockout.login_allowed(request, user.get_username()):
            return _locked_out(request)
        try:
            device = second_factor_verify(user=user, code=form.cleaned_data["code"])
        except SecondFactorRefused as refusal:
            lockout.login_failed(request, user.get_username())
            if lockout.is_locked_out(request):
                return _locked_out(request)
            form.add_error("code", refusal.message)
        else:
            _passed(request, device)
            return redirect(_next(request))
    return render(
        request,
        "registration/second_factor_verify.html",
        {"form": form, "next": _next(request)},
        status=422 if form.errors else 200,
    )


@never_cache
@login_required
def second_factor_enrol_page(request):
    user = request.user
    if second_factor_enrolled(user):
        return redirect(f"{resolve_url('second_factor_verify')}?{request.GET.urlencode()}")
    device = totp_enrolment_start(user=user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            enrolment = totp_enrolment_confirm(
                user=user, device_id=device.pk, code=form.cleaned_data["code"]
            )
        except SecondFactorRefused as refusal:
            form.add_error("code", refusal.message)
        else:
            _passed(request, enrolment.device)
            return render(
                request,
                "registration/recovery_codes.html",
                {"codes": enrolment.recovery_codes, "next": _next(request)},
            )
    uri = totp_uri(device)
    qr = segno.make(uri, error="m").svg_inline(
        scale=4, border=4, svgclass="qr", title=str(_("QR code of the authenticator key"))
    )
    return render(
        request,
        "registration/second_factor_enrol.html",
        {
            "form": form,
            "next": _next(request),
            "uri": uri,
            "secret": totp_secret(device),
            "qr": mark_safe(qr),  # segno's own SVG markup; the URI in it is escaped by segno
        },
        status=422 if form.errors else 200,
    )
