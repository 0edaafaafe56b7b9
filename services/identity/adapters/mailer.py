"""Outbound mail: confirmation links handed to the SMTP relay (``settings.smtp_host``/``smtp_port``).

``smtplib`` runs in a worker thread; any refusal or connection failure is UNAVAILABLE
(MAIL_DELIVERY_FAILED), so the use case stores nothing claiming the message was sent.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from kit.errors import Unavailable


class SmtpMailer:
    """Implements the ``Mailer`` port with plain SMTP (the local sink in development)."""

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._timeout = timeout

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._sender.rsplit("@", 1)[-1])
        message.set_content(body)
        try:
            await asyncio.to_thread(self._deliver, message)
        except (smtplib.SMTPException, OSError) as exc:
            raise Unavailable(
                f"the mail server did not accept the message ({type(exc).__name__}); retry later",
                reason="MAIL_DELIVERY_FAILED",
                metadata={"email": to},
            ) from None

    def _deliver(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            smtp.send_message(message)
