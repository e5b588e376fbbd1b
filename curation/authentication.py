"""API token authentication in one written-out query (DRF's compiles an ORM query per call).

The rules are DRF's `TokenAuthentication`'s, which this extends: `Authorization: Token <key>`,
401 for an unknown key or an inactive user, and `request.auth` is the token.
"""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from curation import rows

_USER = get_user_model()
_TOKEN_USER = f"""
    SELECT t.created, {rows.columns(_USER, "u")}
    FROM authtoken_token t JOIN {_USER._meta.db_table} u ON u.id = t.user_id
    WHERE t.key = %s"""  # noqa: S608 - column and table names only


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        with rows.cursor() as cursor:
            cursor.execute(_TOKEN_USER, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = rows.instance(_USER, row[1:])
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token(key=key, user=user, created=row[0])
        token._state.adding = False
        return user, token
