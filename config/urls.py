from django.contrib import admin
from django.urls import include, path

from esfca.views import signin

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("esfca.api.urls")),
    # The second step of signing in (esfca/second_factor.py), beside Django's login pages.
    path("login/verify/", signin.second_factor_verify_page, name="second_factor_verify"),
    path("login/enrol/", signin.second_factor_enrol_page, name="second_factor_enrol"),
    path("", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("esfca.urls")),
]

# JSON errors under /api/, Django's stock pages elsewhere.
handler400 = "esfca.api.exceptions.handler400"
handler403 = "esfca.api.exceptions.handler403"
handler404 = "esfca.api.exceptions.handler404"
handler500 = "esfca.api.exceptions.handler500"
