"""Passing the second factor in tests (esfca/second_factor.py): a user's confirmed TOTP device,
the code an authenticator app shows now (computed from the key, RFC 6238), and a test client
signed in with both factors."""

import time
from base64 import b32decode

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP, hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from esfca.second_factor import second_factor_enrol, second_factor_expected


def totp_device(user) -> TOTPDevice:
    """The user's confirmed TOTP device, enrolled now if there is none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or second_factor_enrol(user=user, actor=None, via="test").device


def totp_code(device: TOTPDevice) -> str:
    """A code the device accepts now. Each time step's code is good once, so a second sign-in
    within the same 30 s uses the next step's (inside the device's tolerance of one step);
    a third waits for the next step."""
    while True:
        device.refresh_from_db()
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        now = totp.t()
        step = max(now, device.last_t + 1)
        if step <= now + device.tolerance:
            return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"
        time.sleep(device.step - (time.time() - device.t0) % device.step + 0.1)


def code_from_secret(secret: str, at: float | None = None) -> str:
    """What an authenticator app shows for the base32 ``secret`` (SHA1, 6 digits, 30 s)."""
    totp = TOTP(b32decode(secret))
    if at is not None:
        totp.time = at
    return f"{totp.token():06d}"


def log_in(client: Client, user) -> Client:
    """``force_login``, and past the second factor when the user has to pass one (the session
    names the device, as ``django_otp.login`` does after a right code)."""
    client.force_login(user)
    if second_factor_expected(user):
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
        session.save()
    return client
