"""Response headers Django 5.2 does not set by itself, and Django's messages built on demand."""

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.utils.functional import SimpleLazyObject, empty

_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Adds a strict Content-Security-Policy (no inline script or style) to every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not settings.DEBUG:
            response.headers.setdefault("Permissions-Policy", "camera=(), microphone=()")
        return response


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware, building a request's message storage only when something uses
    it (a view adding a message, a page showing them). The API never does, and building it
    (finding the storage class by its dotted name, a cookie and a session store) was a few
    percent of the labeling calls' CPU. Storage that was never built has nothing to save."""

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
