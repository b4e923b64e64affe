"""Keep the secrets some URLs carry out of every log line.

Three kinds of address carry a bearer secret in their path, because the other side cannot send
a header (docs/architecture.md "Secrets in addresses"):

- the provider's callback, ``/webhooks/generations/<id>/<token>/``;
- an input the provider fetches, ``/inputs/<token>/``;
- a member's invitation link, ``/accounts/invite/<token>/``, and Django's password-reset link,
  ``/accounts/reset/<uidb64>/<token>/`` (its ``set-password`` step carries none).

Whoever reads an access log must not be able to replay them. :func:`redact` replaces the secret
with ``[redacted]``; gunicorn's access lines (``gunicorn.conf.py``), the portal's own log lines
(:class:`RedactingFilter`, e.g. django's ``Not Found: <path>``) and nginx's access log
(``deploy/nginx/seedance.conf``, the same patterns as a ``map``) all apply it.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

# The part of the path before the secret, then the secret (up to the next "/", "?", space,
# quote or end). Keep in step with the ``map`` in deploy/nginx/seedance.conf.
SECRET_IN_PATH = re.compile(
    r"(/webhooks/generations/\d+/|/inputs/|/accounts/invite/|/accounts/reset/[^/\s?\"]+/)"
    r"(?!set-password/)[^/\s?\"]+"
)


def redact(text: str) -> str:
    """Return ``text`` with the secret of every secret-bearing path replaced by ``[redacted]``.

    Args:
        text: a path, a full URL or a whole log line.
    """
    if "/" not in text:
        return text
    return SECRET_IN_PATH.sub(r"\1" + REDACTED, text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secret-bearing paths in the record's final message.

    The record then carries the redacted text with no arguments. django's request lines also
    carry the request object, which the JSON formatter writes as its ``repr`` (method and
    path): it is replaced by that ``repr``, redacted. Put this filter after
    ``generations.log_context.ContextFilter``, which reads the request id from that object.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            record.request = redact(repr(request))
        return True
