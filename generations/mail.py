"""The e-mail backend of a production without a mail server (docs/deploy.md "Environment").

With ``DEBUG`` off and no ``EMAIL_URL`` the settings select :class:`NoMailServerBackend`:
nothing is delivered and nothing goes to the log (the console backend wrote invitation and
password-reset links, which log in, to the journal). Every send fails the way an
unreachable SMTP server does, so each caller's own handling of a failing mail server
applies (a task retries or records the failure, the password reset logs it), and
``manage.py check --deploy`` warns (``seedance.W002``, ``generations.checks``). The
settings still load, so ``collectstatic`` and ``check`` run in a build without the
production secrets.
"""

from smtplib import SMTPException

from django.core.mail.backends.base import BaseEmailBackend

NO_MAIL_SERVER = (
    "EMAIL_URL is not set: with DEBUG=false no e-mail is sent. Set your SMTP server, e.g. "
    "EMAIL_URL=smtp+tls://user:password@smtp.example.com:587, or EMAIL_URL=consolemail:// to "
    "write every message to the log instead."
)


class NoMailServerBackend(BaseEmailBackend):
    """Refuse every message: no mail server is configured.

    Raises:
        smtplib.SMTPException: on every send with messages, unless ``fail_silently``
            (then nothing is sent and 0 is returned).
    """

    def send_messages(self, email_messages) -> int:
        if email_messages and not self.fail_silently:
            raise SMTPException(NO_MAIL_SERVER)
        return 0
