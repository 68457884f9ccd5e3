"""Service errors shown to people: one way to put a service's ValidationError on a form, into an API
answer or into one line of text, used by every app's views."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

NON_FIELD = "__all__"


def error_dict(error: ValidationError, *, general_key: str = NON_FIELD) -> dict[str, list[str]]:
    """Messages by field; a plain (field-less) error is filed under `general_key`."""
    if hasattr(error, "error_dict"):
        return error.message_dict
    return {general_key: list(error.messages)}


def attach_service_errors(form: forms.Form, error: ValidationError, *, field_for: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form, next to the field it concerns (`field_for` renames a
    service field to the form's), or above the form when the form has no such field."""
    field_for = field_for or {}
    for name, messages in error_dict(error).items():
        target = field_for.get(name, name)
        form.add_error(target if target in form.fields else None, messages)


def errors_text(error: ValidationError) -> str:
    """All messages of an error as one line (for a flash message or an inline note)."""
    return " ".join(message for messages in error_dict(error).values() for message in messages)


def api_error_detail(error: ValidationError) -> dict[str, list[str]]:
    """The body of a 400 answer in the API: messages by field, `detail` for a field-less error."""
    return error_dict(error, general_key="detail")
