"""Identifiers: namespaced, normalized, each pointing at one profile.

Namespaces: `user_id` (the customer id), `anonymous_id`, `email`, `phone` (caller id/ANI
too), `device_id`, `crm_id`, and custom ones (`[a-z][a-z0-9_]*`). E-mail addresses are
checked and lower-cased with email-validator; phone numbers become E.164 with
phonenumbers (national numbers read in the configured default region). A value that is
not an e-mail address or phone number is an error naming the namespace.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from nextbest.errors import RequestError

NAMESPACES = ("user_id", "anonymous_id", "email", "phone", "device_id", "crm_id")
_CUSTOM = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: traits that carry identifiers (an identify's `email` and `phone` link the profile)
TRAIT_IDENTIFIERS = ("email", "phone")


def normalize(namespace: str, value: object, region: str) -> str:
    """The identifier's canonical form; RequestError naming `namespace` if it has none."""
    if namespace not in NAMESPACES and not _CUSTOM.match(namespace):
        raise RequestError("namespace", f"`{namespace}` is not a valid identifier namespace")
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise RequestError(namespace, "must be a non-empty text or number")
    text = str(value).strip()
    if len(text) > 320:
        raise RequestError(namespace, "is longer than 320 characters")
    if namespace == "email":
        try:
            return validate_email(text, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise RequestError("email", f"not an e-mail address: {exc}") from None
    if namespace == "phone":
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException as exc:
            raise RequestError("phone", f"not a phone number: {exc}") from None
        if not phonenumbers.is_valid_number(number):
            raise RequestError("phone", f"not a valid phone number for region {region}")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return text
