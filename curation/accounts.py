"""Sign-in throttling with lockout (AUTH-7) and the audit trail of sign-ins (LOG-1).

Failures are counted in the database (AuditEvent rows), so the limit holds across gunicorn
workers without a shared cache. After FAILURES_BEFORE_LOCK failures within WINDOW for one
username, or IP_FAILURES_BEFORE_LOCK from one address, sign-in is refused for a lock time that
doubles with each further failure, up to MAX_LOCK.
"""

from datetime import timedelta

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from curation.models import AuditEvent, AuditKind

WINDOW = timedelta(minutes=15)
FAILURES_BEFORE_LOCK = 5
IP_FAILURES_BEFORE_LOCK = 20
BASE_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def _lock_remaining(failures, threshold: int, now) -> timedelta:
    if len(failures) < threshold:
        return timedelta(0)
    lock = min(MAX_LOCK, BASE_LOCK * 2 ** (len(failures) - threshold))
    return max(timedelta(0), failures[0] + lock - now)


def signin_lock_remaining(*, username: str, ip: str | None) -> timedelta:
    """How long sign-in stays refused for this username or address (zero when it is allowed)."""
    now = timezone.now()
    recent = AuditEvent.objects.filter(kind=AuditKind.LOGIN_FAILED, created_at__gte=now - WINDOW)
    by_user = list(
        recent.filter(username__iexact=username).order_by("-created_at")
        .values_list("created_at", flat=True)[:64]
    )  # fmt: skip
    remaining = _lock_remaining(by_user, FAILURES_BEFORE_LOCK, now)
    if ip:
        by_ip = list(
            recent.filter(ip=ip).order_by("-created_at").values_list("created_at", flat=True)[:256]
        )
        remaining = max(remaining, _lock_remaining(by_ip, IP_FAILURES_BEFORE_LOCK, now))
    return remaining


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing to even check the password while locked out."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": "Too many failed sign-ins. Try again in %(minutes)s minute(s).",
    }

    def clean(self):
        username = (self.cleaned_data.get("username") or "")[:150]
        ip = client_ip(self.request)
        remaining = signin_lock_remaining(username=username, ip=ip)
        if remaining:
            AuditEvent.objects.create(kind=AuditKind.LOGIN_LOCKED, username=username, ip=ip)
            minutes = max(1, round(remaining.total_seconds() / 60))
            raise forms.ValidationError(
                self.error_messages["locked"], code="locked", params={"minutes": minutes}
            )
        return super().clean()


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm, ThrottledAuthenticationForm):
    pass


@receiver(user_login_failed)
def _record_failure(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    AuditEvent.objects.create(kind=AuditKind.LOGIN_FAILED, username=username, ip=client_ip(request))


@receiver(user_logged_in)
def _record_success(sender, request, user, **kwargs):
    AuditEvent.objects.create(
        kind=AuditKind.LOGIN_OK, actor=user, username=user.get_username(), ip=client_ip(request)
    )
