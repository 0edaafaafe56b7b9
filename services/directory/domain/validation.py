"""Input checks of the directory's requests (pure; they add field violations to a ``Validator``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from kit.errors import Validator
from kit.validation import MAX_EMAIL_LENGTH, is_domain, is_email, normalize_domain, normalize_email

MAX_DOMAINS = 50
MAX_ID = 64
MAX_URI = 2048
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_id(v: Validator, value: str, field: str) -> str:
    v.check(bool(value), field, "is required")
    v.check(len(value) <= MAX_ID, field, f"must be at most {MAX_ID} characters")
    return value


def check_request_id(v: Validator, value: str) -> str:
    if value:
        v.check(bool(_REQUEST_ID.match(value)), "request_id",
                "must be 1 to 128 letters, digits, '-', '_', '.' or '~'")  # fmt: skip
    return value


def check_domains(v: Validator, values: Sequence[str], field: str = "domains") -> tuple[str, ...]:
    """Lower-cased, valid DNS names, 1 to 50, no duplicates; order kept."""
    if not values:
        v.add(field, "at least one domain is required")
        return ()
    if len(values) > MAX_DOMAINS:
        v.add(field, f"at most {MAX_DOMAINS} domains are allowed")
    seen: list[str] = []
    for n, raw in enumerate(values):
        domain = normalize_domain(raw)
        if not is_domain(domain):
            v.add(f"{field}[{n}]", "must be a domain name such as example.com")
        elif domain in seen:
            v.add(f"{field}[{n}]", f"{domain} is listed twice")
        else:
            seen.append(domain)
    return tuple(seen)


def check_email(v: Validator, value: str, field: str = "email") -> str:
    email = normalize_email(value)
    if not email:
        v.add(field, "is required")
    elif len(email) > MAX_EMAIL_LENGTH:
        v.add(field, f"must be at most {MAX_EMAIL_LENGTH} characters")
    elif not is_email(email):
        v.add(field, "must be an email address such as alice@example.com")
    return email


def check_uri(v: Validator, value: str, field: str, *, https_only: bool = False) -> str:
    """An absolute http(s) URI without fragment (https only when asked, loopback excepted)."""
    if not value:
        return value
    parts = urlsplit(value)
    ok = parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment and len(value) <= MAX_URI
    if ok and https_only and parts.scheme != "https":
        ok = parts.hostname in _LOOPBACK
    v.check(ok, field, "must be an absolute " + ("https" if https_only else "http or https")
            + f" URI without fragment, at most {MAX_URI} characters")  # fmt: skip
    return value
