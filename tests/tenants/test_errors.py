"""Service errors reach people the same way from every view: on the form field, in the API, as text."""

from django import forms
from django.core.exceptions import ValidationError

from tenants.errors import api_error_detail, attach_service_errors, errors_text


class _Form(forms.Form):
    name = forms.CharField(required=False)
    value = forms.CharField(required=False)


def _bound():
    form = _Form(data={})
    assert form.is_valid()
    return form


def test_field_errors_land_on_their_field_and_unknown_fields_above_the_form():
    form = _bound()
    attach_service_errors(form, ValidationError({"name": "taken", "stage": "bad stage"}))
    assert form.errors["name"] == ["taken"]
    assert form.non_field_errors() == ["bad stage"]


def test_a_service_field_can_be_renamed_to_the_forms_field():
    form = _bound()
    attach_service_errors(form, ValidationError({"custom_fields": "too long"}), field_for={"custom_fields": "value"})
    assert form.errors["value"] == ["too long"]


def test_a_plain_error_goes_above_the_form():
    form = _bound()
    attach_service_errors(form, ValidationError(["one", "two"]))
    assert form.non_field_errors() == ["one", "two"]


def test_errors_as_one_line_and_as_an_api_body():
    assert errors_text(ValidationError({"a": ["x", "y"], "b": "z"})) == "x y z"
    assert api_error_detail(ValidationError("nope")) == {"detail": ["nope"]}
    assert api_error_detail(ValidationError({"email": "bad"})) == {"email": ["bad"]}
