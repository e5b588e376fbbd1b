"""Forms for the curation pages. They check what was typed; the services do the writing."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from curation.models import Role


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=80,
        help_text="The project's web address: lowercase letters, digits and hyphens.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    guidelines = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="Annotation guidelines in Markdown (no raw HTML).",
    )
    annotators_per_item = forms.IntegerField(
        min_value=1, max_value=50, initial=3, help_text="How many annotators label each item."
    )


class ProjectEditForm(ProjectForm):
    # The slug is the project's address for bookmarks and API clients, so it stays fixed.
    slug = None
    archived = forms.BooleanField(
        required=False, help_text="Archived projects stay readable but are marked as finished."
    )


class MemberAddForm(forms.Form):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)

    def clean_username(self):
        """The account named by the username (usernames are case-sensitive in Django)."""
        username = self.cleaned_data["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationError("No account has this username.")
        return user


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class MemberRemoveForm(forms.Form):
    """No fields: it only carries the errors of a refused removal."""


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Puts a service's ValidationError on `form`, under the fields it names when it has them."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.error_dict.items():
        messages = [message for error in errors for message in error.messages]
        if field in form.fields:
            form.add_error(field, messages)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, messages)
        else:
            label = field.replace("_", " ").capitalize()
            form.add_error(None, [f"{label}: {message}" for message in messages])
