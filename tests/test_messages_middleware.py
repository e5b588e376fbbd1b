"""The message middleware builds a request's message storage only when something uses it, and
messages still travel from one request to the next (a cookie here)."""

from django.contrib import messages
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import empty

from config.middleware import LazyMessageMiddleware


def request_with_session(cookies=None):
    request = RequestFactory().get("/")
    request.COOKIES.update(cookies or {})
    SessionMiddleware(lambda r: None).process_request(request)
    return request


def through(request, view):
    middleware = LazyMessageMiddleware(lambda r: view(r) or HttpResponse("ok"))
    return middleware(request)


def test_a_request_that_uses_no_messages_builds_no_storage_and_sets_no_cookie():
    request = request_with_session()
    response = through(request, lambda r: None)
    assert request._messages._wrapped is empty
    assert "messages" not in response.cookies


def test_a_message_added_in_one_request_is_shown_in_the_next():
    first = request_with_session()
    response = through(first, lambda r: messages.success(r, "Saved the settings."))
    assert "messages" in response.cookies
    second = request_with_session({"messages": response.cookies["messages"].value})
    shown = []
    through(second, lambda r: shown.extend(str(m) for m in messages.get_messages(r)))
    assert shown == ["Saved the settings."]
