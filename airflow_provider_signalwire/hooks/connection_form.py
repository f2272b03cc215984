"""
The connection form for Airflow 3.1, built from the provider info's declaration.

Airflow 3.2+ reads the form from the provider info (``conn-fields``, ``ui-field-behaviour``) and ignores these;
Airflow 3.1 asks the hook's ``get_connection_form_widgets`` and ``get_ui_field_behaviour`` instead. Both answers
come from the one declaration in :mod:`airflow_provider_signalwire.get_provider_info`.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_signalwire.get_provider_info import get_provider_info

CONNECTION_TYPE = "signalwire"


def _declaration() -> dict[str, Any]:
    (entry,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == CONNECTION_TYPE]
    return entry


def ui_field_behaviour() -> dict[str, Any]:
    """The form's hidden, relabelled and placeholder fields, as ``get_ui_field_behaviour`` returns them."""
    behaviour = _declaration()["ui-field-behaviour"]
    return {name.replace("-", "_"): value for name, value in behaviour.items()}


def connection_form_widgets() -> dict[str, Any]:
    """The extra fields as WTForms fields (Airflow 3.1's API server supplies stand-ins when WTForms is absent)."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import PasswordField, StringField
    from wtforms.validators import Optional

    widgets: dict[str, Any] = {}
    for name, field in _declaration()["conn-fields"].items():
        secret = field["schema"].get("format") == "password"
        field_class, widget = (PasswordField, BS3PasswordFieldWidget) if secret else (StringField, BS3TextFieldWidget)
        widgets[name] = field_class(
            lazy_gettext(field["label"]),
            description=field.get("description", ""),
            validators=[Optional()],
            widget=widget(),
        )
    return widgets
