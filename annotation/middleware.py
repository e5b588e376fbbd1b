"""The labeling API's two busiest calls answered before the rest of Django's request handling.

An annotator's client calls next item and submit every few seconds. Their short path
(annotation.short_path) used to start in the views, after the whole middleware chain and the URL
resolver had run for them: static files, the session, the CSRF check, the messages, htmx, and
the resolver trying the routes in order, none of which a plain token call uses: skipping them
cut the Python CPU of a next + submit pair by 8 to 16% (docs/benchmarks.md). This middleware
sits after the ones that set response headers (security, content security policy, frame
options), matches the two routes by their shape and hands a plain call to the short path;
whatever the short path declines (anything not plain, and every error) goes down the chain to
the views, as before.

What the skipped middleware would have done for such a call is done here: the Host header is
checked against ALLOWED_HOSTS (CommonMiddleware; a bad one goes down the chain, which refuses
it), and the answer carries its Content-Length. The views are csrf-exempt and the short path
authenticates by token only, so the session and CSRF middleware had nothing to do.
"""

import re

from django.core.exceptions import DisallowedHost
from django.urls import get_script_prefix, reverse

from annotation import api, short_path

# The converters' patterns of the two routes (annotation/api_urls.py): slug and int.
_SLUG, _INT = "[-a-zA-Z0-9_]+", "[0-9]+"


def _route(name: str, argument: str, pattern: str) -> re.Pattern:
    """The path of route `name` as a pattern, its argument a named group."""
    marker = "0" if pattern == _INT else "x"
    path = "/" + reverse(name, kwargs={argument: marker}).removeprefix(get_script_prefix())
    head, tail = path.rsplit(f"/{marker}/", 1)
    return re.compile(f"{re.escape(head)}/(?P<{argument}>{pattern})/{re.escape(tail)}")


class ShortPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.next_path = self.submit_path = None
        self.next_allow = _allow(api.AssignmentNextApi)
        self.submit_allow = _allow(api.AnnotationListCreateApi)

    def __call__(self, request):
        if request.method == "POST":
            response = self.answer(request)
            if response is not None:
                response.headers["Content-Length"] = str(len(response.content))
                return response
        return self.get_response(request)

    def answer(self, request):
        """The short path's answer to a plain call of next or submit, else None."""
        if self.next_path is None:  # the URLconf is loaded by the first request, not before
            self.next_path = _route("api:assignment-next", "slug", _SLUG)
            self.submit_path = _route("api:annotation-list", "item_id", _INT)
        path = request.path_info
        if path.endswith("/next/"):
            match = self.next_path.fullmatch(path)
            if match is None or not _host_allowed(request):
                return None
            return short_path.next_answer(request, slug=match["slug"], body=api._next_body,
                                          allow=self.next_allow,
                                          progress_cap=api.LEFT_COUNTED_UP_TO)  # fmt: skip
        if path.endswith("/annotations/"):
            match = self.submit_path.fullmatch(path)
            if match is None or not _host_allowed(request):
                return None
            return short_path.submit_answer(request, item_id=int(match["item_id"]),
                                            body=api._annotation_body,
                                            allow=self.submit_allow)  # fmt: skip
        return None


def _allow(view_class) -> str:
    """The view's Allow header (HEAD comes with GET once a view is set up)."""
    view = view_class()
    view.setup(None)
    return ", ".join(view.allowed_methods)


def _host_allowed(request) -> bool:
    try:
        request.get_host()
    except DisallowedHost:
        return False  # CommonMiddleware, down the chain, refuses it
    return True
