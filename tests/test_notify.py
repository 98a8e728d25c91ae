"""Alarm notifications: a real SMTP server and a real HTTP receiver, each on 127.0.0.1.

Messages go through the store's outbox (SQLite and PostgreSQL) and are sent by delivery passes
(shuian.services.outbox; tests/test_outbox.py covers runners, leases and the ingest).

Specification: a raised alarm reaches every notifier once; the same alarm state is never sent
twice; an escalation is a new message; failures are tried again after a back-off (the clock is
injected, so nothing waits) and every attempt is logged; a message is given up after its last
attempt with the reason kept; one failing notifier never stops another; each notifier sends
only its levels.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from pydantic import ValidationError

from conftest import Receiver
from shuian.errors import ShuianError
from shuian.notify import (
    AlarmEvent,
    Delivery,
    NotificationError,
    Notifier,
    RetryPolicy,
    SmtpNotifier,
    WebhookNotifier,
    addressed,
    build_notifiers,
    dedupe_key,
    distinct_names,
    email_message,
    webhook_body,
)
from shuian.services.outbox import deliver_due, queue_notifications
from shuian.settings import Settings
from shuian.site.notifications import NotificationSettings
from shuian.store import Store

TZ = "Asia/Shanghai"
T0_US = 1_721_865_600_000_000  # 2024-07-25T00:00:00Z = 08:00 in Shanghai

RAISED = AlarmEvent(
    alarm_id=42,
    site="shimenzi",
    site_name="Shimenzi",
    channel="PL1.R",
    instrument="PL1",
    rule="envelope",
    level="warning",
    state="raised",
    time_us=T0_US,
    value=24.3,
    unit="mm",
    message="PL1.R 24.3 mm is 2.4 sigma above the HST prediction 19.1 mm",
    synthetic=True,
)
ESCALATED = replace(
    RAISED,
    level="alarm",
    state="escalated",
    time_us=T0_US + 3_600_000_000,
    value=25.6,
    message="PL1.R 25.6 mm is 3.4 sigma above the HST prediction 19.1 mm",
)

RAISED_KEY = f"42:raised:warning:{T0_US}"
ESCALATED_KEY = f"42:escalated:alarm:{T0_US + 3_600_000_000}"


# --- a real SMTP server ---------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def smtp_server(box: Mailbox, **options: Any) -> Iterator[int]:
    """Run an aiosmtpd server delivering to ``box`` on 127.0.0.1; yield its port."""
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with smtp_server(box) as port:
        yield box, port


def smtp(port: int, **kwargs: Any) -> SmtpNotifier:
    return SmtpNotifier(
        "127.0.0.1",
        port,
        sender="shuian@shimenzi.example",
        recipients=["dam-safety@shimenzi.example", "duty@shimenzi.example"],
        timezone=TZ,
        local_hostname="localhost",
        **kwargs,
    )


#: Three attempts, 1 s then 5 s apart (then 30 s): the passes below move the clock, not time.
POLICY = RetryPolicy(attempts=3, backoff_s=(1, 5, 30))
NOW_US = T0_US + 600_000_000  # the outbox's clock: ten minutes after the alarm
SECOND = 1_000_000


class Outbox:
    """A real store's outbox with fixed notifiers, delivered one pass at a time on a clock
    that moves only when told (no pass ever waits)."""

    def __init__(self, store: Store, notifiers: list[Notifier]) -> None:
        self.store = store
        self.notifiers = notifiers
        self.now_us = NOW_US

    def keep(self, *events: AlarmEvent) -> int:
        return queue_notifications(self.store, events, self.notifiers, now_us=self.now_us)

    def deliver(self, *events: AlarmEvent) -> list[Delivery]:
        """Keep ``events`` (if any), then one delivery pass now."""
        self.keep(*events)
        return deliver_due(self.store, notifiers=lambda site: self.notifiers, policy=POLICY,
                           clock=lambda: self.now_us)

    def later(self, seconds: float) -> Outbox:
        self.now_us += int(seconds * SECOND)
        return self

    def log(self) -> list[tuple[str, str, int, bool, str | None]]:
        """The deliveries log, oldest first: key, notifier, attempt, ok, error."""
        return [(d["key"], d["notifier"], d["attempt"], d["ok"], d["error"])
                for d in reversed(self.store.delivery_log())]


# --- delivery -------------------------------------------------------------------------------


def test_a_raised_alarm_is_delivered_once_by_webhook_and_email(
    store: Store, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    outbox = Outbox(store, [WebhookNotifier(receiver.url), smtp(port)])
    deliveries = outbox.deliver(RAISED)

    assert [(d.notifier, d.outcome, d.attempt) for d in deliveries] == [
        ("webhook", "sent", 1),
        ("email", "sent", 1),
    ]
    assert [body["key"] for body in receiver.bodies] == [RAISED_KEY]
    assert len(box.messages) == 1
    assert box.envelopes[0].rcpt_tos == ["dam-safety@shimenzi.example", "duty@shimenzi.example"]
    assert outbox.log() == [
        (RAISED_KEY, "webhook", 1, True, None),
        (RAISED_KEY, "email", 1, True, None),
    ]
    assert store.delivered(RAISED_KEY, "webhook") and store.delivered(RAISED_KEY, "email")
    assert [(e.state, e.attempts) for e in store.outbox()] == [("sent", 1), ("sent", 1)]


def test_the_same_alarm_state_is_never_sent_twice(
    store: Store, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    outbox = Outbox(store, [WebhookNotifier(receiver.url), smtp(port)])
    assert outbox.keep(RAISED, RAISED) == 2  # twice in one batch: one message per notifier
    outbox.deliver()
    assert outbox.later(60).keep(RAISED) == 0  # and again later: kept already
    again = outbox.deliver(RAISED)

    assert again == []
    assert len(receiver.bodies) == 1
    assert len(box.messages) == 1
    assert len(outbox.log()) == 2


def test_an_escalation_is_a_new_message(
    store: Store, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    outbox = Outbox(store, [WebhookNotifier(receiver.url), smtp(port)])
    outbox.deliver(RAISED)
    outbox.deliver(RAISED, ESCALATED)

    assert [body["key"] for body in receiver.bodies] == [RAISED_KEY, ESCALATED_KEY]
    assert [m["Subject"] for m in box.messages] == [
        "[Shuian WARNING] [SYNTHETIC DATA] Shimenzi PL1.R: "
        "24.3 mm is 2.4 sigma above the HST prediction 19.1 mm",
        "[Shuian ALARM] [SYNTHETIC DATA] Shimenzi PL1.R escalated: "
        "25.6 mm is 3.4 sigma above the HST prediction 19.1 mm",
    ]
    # one thread per alarm in a mail client, one Message-ID per alarm state
    assert box.messages[0]["References"] == box.messages[1]["References"]
    assert box.messages[0]["Message-ID"] != box.messages[1]["Message-ID"]


def test_a_webhook_failing_twice_is_delivered_at_the_third_attempt_after_the_back_off(
    store: Store, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    outbox = Outbox(store, [WebhookNotifier(receiver.url)])

    [first] = outbox.deliver(RAISED)
    assert (first.outcome, first.attempt) == ("failed", 1)
    assert [e.next_try_us for e in store.outbox()] == [NOW_US + 1 * SECOND]
    assert outbox.later(0.999).deliver() == []  # not due before its back-off
    [second] = outbox.later(0.001).deliver()
    assert (second.outcome, second.attempt) == ("failed", 2)
    assert [e.next_try_us for e in store.outbox()] == [outbox.now_us + 5 * SECOND]
    [third] = outbox.later(5).deliver()

    assert (third.outcome, third.attempt, third.error) == ("sent", 3, None)
    assert receiver.requests == 3
    assert len(receiver.bodies) == 1
    assert [(attempt, ok) for _, _, attempt, ok, _ in outbox.log()] == [
        (1, False), (2, False), (3, True)
    ]
    failure = outbox.log()[0][4]
    assert failure is not None
    assert "HTTP 500" in failure
    assert "127.0.0.1" in failure and "/hooks/alarms" in failure
    assert "s3cret" not in failure  # the receiver's token stays out of the log


def test_a_message_that_exhausts_its_attempts_is_given_up_with_its_reason_kept(
    store: Store, receiver: Receiver
) -> None:
    receiver.fail_first = 3
    outbox = Outbox(store, [WebhookNotifier(receiver.url)])

    outcomes = [d.outcome for seconds in (0, 1, 5) for d in outbox.later(seconds).deliver(RAISED)]
    assert outcomes == ["failed", "failed", "gave_up"]
    assert not store.delivered(RAISED_KEY, "webhook")
    [given_up] = store.outbox(state="gave_up")
    assert (given_up.key, given_up.attempts, given_up.done_us) == (RAISED_KEY, 3, outbox.now_us)
    assert given_up.last_error is not None and "HTTP 500" in given_up.last_error

    assert outbox.later(3600).deliver(RAISED) == []  # given up is final: nothing is sent
    assert receiver.bodies == [] and receiver.requests == 3
    assert [(attempt, ok) for _, _, attempt, ok, _ in outbox.log()] == [
        (1, False), (2, False), (3, False)
    ]


def test_a_refusing_smtp_server_is_logged_and_the_webhook_still_delivers(
    store: Store, receiver: Receiver
) -> None:
    port = free_port()  # nothing listens there: the connection is refused
    outbox = Outbox(store, [smtp(port), WebhookNotifier(receiver.url)])
    deliveries = [d for seconds in (0, 1, 5) for d in outbox.later(seconds).deliver(RAISED)]

    assert [(d.notifier, d.outcome) for d in deliveries] == [
        ("email", "failed"), ("webhook", "sent"), ("email", "failed"), ("email", "gave_up")
    ]
    assert len(receiver.bodies) == 1
    failures = [entry for entry in outbox.log() if entry[1] == "email"]
    assert [(attempt, ok) for _, _, attempt, ok, _ in failures] == [
        (1, False), (2, False), (3, False)
    ]
    for *_, error in failures:
        assert error is not None
        assert f"127.0.0.1:{port}" in error
        assert "refused" in error.lower()


def test_each_notifier_sends_only_its_levels(
    store: Store, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    settings = NotificationSettings.model_validate(
        {
            "webhooks": [{"name": "duty-room", "url": receiver.url}],  # default: warning, alarm
            "email": {
                "host": "127.0.0.1",
                "port": port,
                "sender": "shuian@shimenzi.example",
                "recipients": ["dam-safety@shimenzi.example"],
                "levels": ["alarm"],
            },
        }
    )
    notifiers = build_notifiers(settings, TZ)
    attention = replace(RAISED, alarm_id=41, level="attention")
    assert addressed(attention, notifiers) == []
    assert addressed(RAISED, notifiers) == ["duty-room"]
    assert addressed(ESCALATED, notifiers) == ["duty-room", "email"]
    outbox = Outbox(store, notifiers)
    assert outbox.keep(attention, RAISED, ESCALATED) == 3  # a filtered message is not kept
    deliveries = outbox.deliver()

    assert [(d.key, d.notifier, d.outcome) for d in deliveries] == [
        (RAISED_KEY, "duty-room", "sent"),
        (ESCALATED_KEY, "duty-room", "sent"),
        (ESCALATED_KEY, "email", "sent"),
    ]
    assert [body["level"] for body in receiver.bodies] == ["warning", "alarm"]
    assert [m["X-Shuian-Alarm"] for m in box.messages] == [ESCALATED_KEY]
    assert len(outbox.log()) == 3  # a filtered message is not an attempt


def test_acknowledged_and_cleared_states_are_not_sent_by_default(
    store: Store, receiver: Receiver
) -> None:
    acknowledged = replace(ESCALATED, state="acknowledged")
    cleared = replace(ESCALATED, state="cleared")
    outbox = Outbox(store, [WebhookNotifier(receiver.url)])
    assert outbox.keep(acknowledged, cleared) == 0
    assert outbox.deliver() == []
    assert receiver.bodies == []


def test_a_notifier_that_breaks_does_not_stop_the_others(
    store: Store, receiver: Receiver
) -> None:
    class Broken(Notifier):
        def send(self, event: AlarmEvent) -> None:
            raise RuntimeError("bug\x00")

    deliveries = Outbox(store, [Broken(name="broken"), WebhookNotifier(receiver.url)]).deliver(
        RAISED
    )

    assert [d.outcome for d in deliveries] == ["failed", "sent"]
    # kept as one printable line: a NUL would be refused by PostgreSQL and stall the message
    assert deliveries[0].error == "unexpected RuntimeError in notifier 'broken': bug\\x00"
    assert [e.last_error for e in store.outbox() if e.notifier == "broken"] == [
        deliveries[0].error
    ]


def test_notifier_names_must_be_distinct(receiver: Receiver) -> None:
    with pytest.raises(ValueError, match="distinct.*'webhook'"):
        distinct_names([WebhookNotifier(receiver.url), WebhookNotifier(receiver.url)])
    with pytest.raises(ValidationError, match="at most 64 characters"):
        NotificationSettings.model_validate(
            {"webhooks": [{"name": "d" * 65, "url": receiver.url}]}
        )


# --- what the messages say ------------------------------------------------------------------


def test_the_webhook_body_is_this_json(store: Store, receiver: Receiver) -> None:
    # the event goes through the store's outbox (JSON) and comes back the same
    Outbox(store, [WebhookNotifier(receiver.url, headers={"X-Team": "dam-safety"})]).deliver(
        RAISED
    )

    assert receiver.bodies == [
        {
            "type": "shuian.alarm",
            "key": RAISED_KEY,
            "alarm_id": 42,
            "site": "shimenzi",
            "site_name": "Shimenzi",
            "channel": "PL1.R",
            "instrument": "PL1",
            "rule": "envelope",
            "level": "warning",
            "state": "raised",
            "time": "2024-07-25T00:00:00Z",
            "time_us": T0_US,
            "value": 24.3,
            "unit": "mm",
            "message": "PL1.R 24.3 mm is 2.4 sigma above the HST prediction 19.1 mm",
            "synthetic": True,
        }
    ]
    assert receiver.headers[0]["Content-Type"] == "application/json"
    assert receiver.headers[0]["X-Team"] == "dam-safety"


def test_a_no_data_alarm_has_a_null_value() -> None:
    silent = replace(RAISED, rule="no_data", value=None, unit="", synthetic=False)
    body = webhook_body(silent)
    assert (body["value"], body["synthetic"]) == (None, False)
    assert json.loads(json.dumps(body)) == body


def test_the_email_says_synthetic_data_and_shows_the_site_time(
    store: Store, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    Outbox(store, [smtp(port)]).deliver(ESCALATED)
    [message] = box.messages

    assert "SYNTHETIC DATA" in message["Subject"]
    assert message["From"] == "shuian@shimenzi.example"
    assert message["Date"] is not None
    body = message.get_content()
    assert "SYNTHETIC DATA" in body
    assert "合成数据" in body
    assert "2024-07-25 09:00:00 +08:00 (Asia/Shanghai)" in body  # 01:00 UTC in Shanghai
    assert "2024-07-25T01:00:00Z" in body
    assert "PL1.R 25.6 mm is 3.4 sigma above the HST prediction 19.1 mm" in body
    assert "25.6 mm" in body
    assert "报警" in body and "升级" in body  # the Chinese lines: level alarm, state escalated


def test_real_data_say_nothing_about_synthetic_data() -> None:
    real = replace(RAISED, synthetic=False)
    message = email_message(real, sender="a@b.example", recipients=["c@d.example"], timezone=TZ)
    assert message["Subject"] == (
        "[Shuian WARNING] Shimenzi PL1.R: 24.3 mm is 2.4 sigma above the HST prediction 19.1 mm"
    )
    assert "SYNTHETIC" not in message.get_content()
    assert dedupe_key(real) == RAISED_KEY


# --- settings -------------------------------------------------------------------------------


def email_section(**overrides: Any) -> dict[str, Any]:
    return {
        "email": {
            "host": "127.0.0.1",
            "sender": "shuian@shimenzi.example",
            "recipients": ["dam-safety@shimenzi.example"],
            **overrides,
        }
    }


def test_the_smtp_password_comes_from_the_environment_variable_named_in_the_file(
    store: Store,
) -> None:
    box = Mailbox()
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(
        server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)

    # LOGIN without TLS is fine on 127.0.0.1; aiosmtpd would refuse it unless told so
    with smtp_server(box, authenticator=authenticate, auth_require_tls=False) as port:
        settings = NotificationSettings.model_validate(
            email_section(port=port, username="shuian", password_env="SHUIAN_SMTP_PASSWORD")
        )
        [notifier] = build_notifiers(
            settings, TZ, secrets=Settings.from_env({"SHUIAN_SMTP_PASSWORD": "pa55"}))
        [delivery] = Outbox(store, [notifier]).deliver(RAISED)

    assert delivery.outcome == "sent"
    assert logins == [(b"shuian", b"pa55")]
    assert len(box.messages) == 1
    assert "pa55" not in repr(notifier)


def test_a_missing_password_variable_is_named() -> None:
    settings = NotificationSettings.model_validate(
        email_section(username="shuian", password_env="SHUIAN_SMTP_PASSWORD")
    )
    with pytest.raises(NotificationError, match="SHUIAN_SMTP_PASSWORD is not set") as caught:
        build_notifiers(settings, TZ, secrets=Settings.from_env({}))
    assert isinstance(caught.value, ShuianError)


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (email_section(password="pa55"), "Extra inputs are not permitted"),
        (email_section(username="shuian"), "username and password_env together"),
        (email_section(recipients=["duty room"]), "not an e-mail address: 'duty room'"),
        (email_section(levels=["panic"]), "'attention', 'warning' or 'alarm'"),
        ({"webhooks": [{"name": "a", "url": "ftp://x"}]}, "should match pattern"),
        (
            {"webhooks": [{"name": "email", "url": "http://x"}], **email_section()},
            "distinct; used more than once: ['email']",
        ),
    ],
)
def test_invalid_settings_say_what_is_wrong(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NotificationSettings.model_validate(section)
    assert problem in str(caught.value)


def test_settings_default_to_warning_and_alarm() -> None:
    settings = NotificationSettings.model_validate(
        {"webhooks": [{"name": "duty-room", "url": "https://ops.example/hook"}], **email_section()}
    )
    assert [sorted(n.levels) for n in build_notifiers(settings, TZ)] == [
        ["alarm", "warning"],
        ["alarm", "warning"],
    ]


def test_the_package_exports_every_public_name_of_its_modules() -> None:
    import shuian.notify as notify
    from shuian.notify import build, channels, dispatch, message

    public = {
        name
        for module in (build, channels, dispatch, message)
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", module.__name__) == module.__name__
        and name not in {"annotations", "logger"}
        and not isinstance(value, type(notify))
    }
    assert public <= set(notify.__all__)
    assert all(hasattr(notify, name) for name in notify.__all__)
