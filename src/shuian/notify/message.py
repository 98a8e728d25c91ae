"""What a notification says: the alarm event handed to notifiers, and how it is rendered.

The alarm engine turns each alarm state change into an :class:`AlarmEvent`; this module turns an
event into a webhook's JSON body (:func:`webhook_body`) or an e-mail (:func:`email_message`).
Rendering is pure: no clock, no network. Times stay µs since 1970 UTC inside, ISO 8601 UTC in
the JSON body and the site's local time in the e-mail, as everywhere else in Shuian.

:func:`dedupe_key` names the one message an alarm state deserves: ``"{alarm_id}:{state}:{level}"``.
An escalation (same alarm, a higher level) is a new key and so a new message; sending the same
state again is not.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal

import numpy as np

from shuian.i18n import DEFAULT_LANG as _DEFAULT_LANG
from shuian.i18n import Lang, render, render_stored
from shuian.site.notifications import Level
from shuian.times import iso_utc

Rule = Literal["threshold", "rate", "envelope", "no_data", "camera.intrusion", "camera.debris",
               "camera.spillway_flow", "camera.no_video", "camera.disagree"]
State = Literal["raised", "escalated", "acknowledged", "cleared"]

NOTIFIED_STATES: frozenset[State] = frozenset({"raised", "escalated"})
"""The states a notifier sends by default: an alarm that needs a person now."""

_LEVEL_ZH = {"attention": "注意", "warning": "警告", "alarm": "报警"}
_STATE_ZH = {"raised": "触发", "escalated": "升级", "acknowledged": "已确认", "cleared": "已解除"}
_HEADLINE_ZH = {
    "raised": "触发报警",
    "escalated": "报警升级",
    "acknowledged": "报警已确认",
    "cleared": "报警已解除",
}
_RULE_ZH = {"threshold": "阈值", "rate": "变化速率", "envelope": "模型包络", "no_data": "无数据",
            "camera.intrusion": "区域入侵", "camera.debris": "漂浮物",
            "camera.spillway_flow": "溢洪道过流",
            "camera.no_video": "视频异常", "camera.disagree": "水尺与水位计不一致"}
_SUBJECT_REASON_MAX = 90


@dataclass(frozen=True)
class AlarmEvent:
    """One alarm state change, as notifiers see it.

    Attributes
    ----------
    alarm_id : int
        The alarm's id in the store; the same id through raised, escalated, ..., cleared.
    site : str
        The site's code (``shimenzi``).
    site_name : str
        The site's name as people say it (``Shimenzi``).
    channel : str
        The channel's code (``PL1.R``).
    instrument : str
        The instrument's code (``PL1``).
    rule : {"threshold", "rate", "envelope", "no_data", "camera.intrusion", ...}
        The check that raised the alarm.
    level : {"attention", "warning", "alarm"}
        The alarm's level in this state.
    state : {"raised", "escalated", "acknowledged", "cleared"}
        The state that began at ``time_us``.
    time_us : int
        When the state began, µs since 1970-01-01 UTC.
    value : float or None
        The reading that caused it, in ``unit``; None when there is none (``no_data``).
    unit : str
        Unit of ``value`` (``mm``).
    message : str
        The engineer-readable reason, e.g. ``"PL1.R 24.3 mm is 3.4 sigma above the HST
        prediction 19.1 mm"``.
    synthetic : bool
        The site's data are synthetic (the demo); every message says so.
    message_key : str or None
        The catalogue key of ``message`` (:mod:`shuian.i18n`); None: ``message`` is shown as
        it is.
    message_params : dict or None
        The parameters of ``message_key`` (JSON).
    language : {"en", "zh"}
        The site's language (``language`` in the site file): the reason is sent in it.
    """

    alarm_id: int
    site: str
    site_name: str
    channel: str
    instrument: str
    rule: Rule
    level: Level
    state: State
    time_us: int
    value: float | None
    unit: str
    message: str
    synthetic: bool
    message_key: str | None = None
    message_params: dict[str, Any] | None = None
    language: Lang = _DEFAULT_LANG

    def reason(self) -> str:
        """The reason in the event's language (its English text when it has no key)."""
        return render_stored(self.message, self.message_key, self.message_params, self.language)


def dedupe_key(event: AlarmEvent) -> str:
    """The key of the one message an alarm state deserves.

    ``"{alarm_id}:{state}:{level}:{time_us}"``: the same step judged again is not sent again,
    while an alarm that escalates a second time (after falling back) is a new message.

    Examples
    --------
    >>> dedupe_key(AlarmEvent(7, "s", "S", "PL1.R", "PL1", "rate", "alarm", "escalated", 0,
    ...                       1.0, "mm", "fast", False))
    '7:escalated:alarm:0'
    """
    return f"{event.alarm_id}:{event.state}:{event.level}:{event.time_us}"


def webhook_body(event: AlarmEvent) -> dict[str, Any]:
    """The JSON body a webhook receives for an event.

    Parameters
    ----------
    event : AlarmEvent
        The alarm state change.

    Returns
    -------
    dict
        JSON-able: ``{"type": "shuian.alarm", "key", "alarm_id", "site", "site_name",
        "channel", "instrument", "rule", "level", "state", "time" (ISO 8601 UTC, ``Z``),
        "time_us", "value", "unit", "message", "synthetic"}``. ``key`` is :func:`dedupe_key`:
        a receiver may use it to drop a message it has already seen. ``message`` is in the
        site's ``language``; a message of the catalogue adds ``message_key``,
        ``message_params`` and ``language``, for a receiver that shows it in another language.
    """
    body = {
        "type": "shuian.alarm",
        "key": dedupe_key(event),
        "alarm_id": event.alarm_id,
        "site": event.site,
        "site_name": event.site_name,
        "channel": event.channel,
        "instrument": event.instrument,
        "rule": event.rule,
        "level": event.level,
        "state": event.state,
        "time": _iso_utc(event.time_us),
        "time_us": event.time_us,
        "value": event.value,
        "unit": event.unit,
        "message": event.reason(),
        "synthetic": event.synthetic,
    }
    if event.message_key is not None:
        body |= {"message_key": event.message_key, "message_params": event.message_params,
                 "language": event.language}
    return body


def email_subject(event: AlarmEvent) -> str:
    """The e-mail subject: ``[Shuian ALARM] Shimenzi PL1.R: 24.3 mm is 3.4 sigma above ...``.

    The level is in capitals; an escalation says so; synthetic data say ``[SYNTHETIC DATA]``.
    The reason is the event's message without a leading channel code (the subject names it
    already), cut to 90 characters. In the site's language: a Chinese site's subject reads
    ``[水安 报警] 石门子水库 PL1.R 已升级: ...``.
    """
    lang = event.language
    level = event.level.upper() if lang == "en" else render(f"state.{event.level}", lang)
    tag = render("notify.subject", lang, level=level)
    if event.synthetic:
        tag += " " + render("notify.synthetic_tag", lang)
    reason = event.reason().strip()
    if reason.startswith(event.channel + " "):
        reason = reason[len(event.channel) + 1 :].lstrip()
    if len(reason) > _SUBJECT_REASON_MAX:
        reason = reason[: _SUBJECT_REASON_MAX - 1].rstrip() + "…"
    words = event.state if lang == "en" else render(f"alarm_state.{event.state}", lang)
    state = "" if event.state == "raised" else f" {words}"
    return f"{tag} {event.site_name} {event.channel}{state}: {reason}"


def email_message(
    event: AlarmEvent, *, sender: str, recipients: list[str] | tuple[str, ...], timezone: str
) -> EmailMessage:
    """The e-mail for an event: plain text, English and Chinese lines, times in the site zone.

    Parameters
    ----------
    event : AlarmEvent
        The alarm state change.
    sender : str
        The ``From`` address.
    recipients : list of str
        The ``To`` addresses.
    timezone : str
        IANA zone of the site (``Asia/Shanghai``); times are shown in it, with the UTC time too.

    Returns
    -------
    EmailMessage
        With ``Subject`` (:func:`email_subject`), ``From``, ``To``, a ``Message-ID`` stable for
        the event's :func:`dedupe_key` (a resent copy is recognisably the same message) and
        ``References`` common to every message of one alarm (mail clients thread them). No
        ``Date``: the sender stamps it when it sends.
    """
    local = _local_time(event.time_us, timezone)
    value = "—" if event.value is None else f"{event.value:.6g} {event.unit}".rstrip()
    lines: list[str] = []
    if event.synthetic:
        lines += [
            "SYNTHETIC DATA: this alarm comes from the demo's synthetic series, not from a dam.",
            "合成数据：此报警来自演示用的合成数据，并非大坝实测。",
            "",
        ]
    lines += [
        f"{event.level.upper()} {event.state} at {event.site_name}, channel {event.channel}.",
        f"{event.site_name} 测点 {event.channel} {_HEADLINE_ZH[event.state]}，"
        f"级别：{_LEVEL_ZH[event.level]}。",
        "",
        f"Reason / 原因: {event.reason()}",
        f"Value / 测值: {value}",
        f"Since / 开始时间: {local} ({timezone}); {_iso_utc(event.time_us)}",
        f"Level / 级别: {event.level} / {_LEVEL_ZH[event.level]}",
        f"State / 状态: {event.state} / {_STATE_ZH[event.state]}",
        f"Rule / 规则: {event.rule} / {_RULE_ZH[event.rule]}",
        f"Instrument / 仪器: {event.instrument}",
        f"Site / 工程: {event.site_name} ({event.site})",
        f"Alarm / 报警编号: {event.alarm_id}",
        "",
        "Acknowledge it in Shuian once someone is on it. 有人处理后请在水安中确认此报警。",
        "-- ",
        "Shuian (水安) dam monitoring",
    ]
    msg = EmailMessage()
    msg["Subject"] = email_subject(event)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    key = dedupe_key(event).replace(":", ".")
    msg["Message-ID"] = f"<shuian.{event.site}.{key}@shuian.invalid>"
    msg["References"] = f"<shuian.{event.site}.{event.alarm_id}@shuian.invalid>"
    msg["X-Shuian-Alarm"] = dedupe_key(event)
    if event.synthetic:
        msg["X-Shuian-Synthetic"] = "yes"
    msg.set_content("\n".join(lines) + "\n", cte="quoted-printable")
    return msg


def _iso_utc(time_us: int) -> str:
    return iso_utc(times_us=np.array([time_us], dtype=np.int64))[0]


def _local_time(time_us: int, timezone: str) -> str:
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=time_us)
    local = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S") + f" {offset[:3]}:{offset[3:]}"
