from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from curation.accounts import ThrottledAdminAuthenticationForm, ThrottledAuthenticationForm
from curation.health import healthz

admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/", include("config.api_urls")),  # early: routes are tried in order
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("", include("adjudication.urls")),
    path("", include("annotation.urls")),
    path("", include("curation.urls")),
]

handler500 = "config.errors.server_error"
