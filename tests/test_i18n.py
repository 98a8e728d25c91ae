"""Specification of the one bilingual message catalogue (shuian.i18n) and who reads it.

Every sentence the server makes for a person has one key with an English and a Chinese text;
the API answers in the reader's language (``lang``, the page's ``shuian_lang`` cookie, then
``Accept-Language``), notifications in the site's; stored rows keep their English text and
show it when they have no key. The page's own dictionary (web/static/i18n.js) is checked here
against the catalogue.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import Receiver
from shuian.checks import check_series
from shuian.i18n import (
    CATALOGUE,
    LANGS,
    CatalogueError,
    Message,
    negotiate,
    placeholders,
    render,
    render_stored,
)
from shuian.ingest.rows import MAX_CHANNEL_TEXT
from shuian.notify import WebhookNotifier, email_subject, webhook_body
from shuian.services.ingest import Ingestor
from shuian.site.analysis import Checks
from shuian.store import Store, StoredSite
from test_analysis import history, scene  # noqa: F401 - fixtures
from test_api_analysis import anonymous, api  # noqa: F401 - fixtures
from test_notify import RAISED, Outbox
from test_toa5_ingest import HEADER as TOA5_HEADER

I18N_JS = Path(__file__).parents[1] / "src" / "shuian" / "web" / "static" / "i18n.js"


def sample(text: str) -> dict[str, Any]:
    """A parameter for every placeholder of ``text``: a number where its format wants one."""
    return {
        name: 1.5 if spec and spec[-1] in "gfe%," else "x"
        for _, name, spec, _ in string.Formatter().parse(text)
        if name
    }


# -- the catalogue itself ------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_key_has_english_and_chinese_with_the_same_placeholders(key: str) -> None:
    texts = CATALOGUE[key]
    assert set(texts) == set(LANGS), key
    assert all(texts[lang].strip() for lang in LANGS), key
    assert placeholders(texts["en"]) == placeholders(texts["zh"]), key
    for lang in LANGS:
        assert render(key, lang, **sample(texts["en"]))


def test_the_chinese_texts_are_chinese() -> None:
    """A zh text that is the English one copied is a missing translation (codes aside)."""
    words = {k: re.sub(r"\{[^}]*\}", "", t["en"]) for k, t in CATALOGUE.items()}
    same = [k for k, t in CATALOGUE.items()
            if t["zh"] == t["en"] and re.search("[a-z]{3}", words[k])]
    assert same == []


def test_render_fails_loudly_on_a_missing_parameter_or_an_unknown_key() -> None:
    with pytest.raises(CatalogueError, match="needs the parameter 'channel'"):
        render("alarm.cleared", "zh")
    with pytest.raises(CatalogueError, match="no message 'alarm.nonsense'"):
        render("alarm.nonsense", "en")
    with pytest.raises(CatalogueError, match="does not fit"):
        render("alarm.threshold.above", "en", channel="WL1", value="high", unit="m",
               level="alarm", limit=1)


def test_a_message_renders_its_nested_words_in_the_same_language_and_survives_json() -> None:
    level = Message.of("state.warning")
    message = Message.of("alarm.rate", channel="J2", level=level, limit="5", unit="mm")
    assert str(message) == "J2 changes faster than its warning rate limit (5 mm/day)"
    assert message.render("zh") == "J2 变化快于其警告速率限值（5 mm/天）"
    again = Message.from_json(json.loads(json.dumps(message.to_json())))
    assert again == message and again.render("zh") == message.render("zh")


def test_a_stored_row_without_a_key_shows_its_text() -> None:
    assert render_stored("old English text", None, None, "zh") == "old English text"
    assert render_stored("old", "a.key.no.longer.here", {}, "zh") == "old"
    assert render_stored("old", "alarm.cleared", {}, "zh") == "old"  # parameters lost
    assert render_stored("x", "alarm.cleared", {"channel": "S3"}, "zh") == "S3 恢复正常"


@pytest.mark.parametrize(("header", "lang"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    ("zh-Hans", "zh"),
    ("zh-TW", "zh"),
    ("en-GB,en;q=0.9", "en"),
    ("fr-FR, de;q=0.9", "en"),
    ("fr, en;q=0.5, zh;q=0.7", "zh"),
    ("zh;q=0, en", "en"),
    ("*", "en"),
    ("", "en"),
    (None, "en"),
    ("zh;q=banana", "en"),
    ("x" * 100_000, "en"),
])
def test_negotiate_takes_the_best_language_we_have(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang


# -- the page's dictionary ------------------------------------------------------------------------


def page_dictionary() -> dict[str, dict[str, str]]:
    """The en and zh objects of i18n.js (one `"key": "text",` per line)."""
    source = I18N_JS.read_text(encoding="utf-8")
    found: dict[str, dict[str, str]] = {}
    for lang in LANGS:
        block = re.search(rf"^  {lang}: {{\n(.*?)^  }},", source, re.M | re.S)
        assert block is not None, lang
        entries = re.findall(r'^\s+"([^"]+)":\s*"((?:[^"\\]|\\.)*)",?\s*$', block.group(1), re.M)
        found[lang] = {k: json.loads(f'"{v}"') for k, v in entries}
    return found


def test_the_page_dictionary_has_every_word_in_both_languages_and_agrees_with_the_catalogue(
) -> None:
    words = page_dictionary()
    assert len(words["en"]) > 200
    assert set(words["en"]) == set(words["zh"])
    for key, english in words["en"].items():
        assert english.strip() and words["zh"][key].strip(), key
        names = set(re.findall(r"\{(\w+)\}", english))
        assert names == set(re.findall(r"\{(\w+)\}", words["zh"][key])), key
    shared = set(words["en"]) & set(CATALOGUE)
    assert {"state.warning", "rule.envelope", "alarm_state.cleared"} <= shared
    for key in shared:
        assert {lang: words[lang][key] for lang in LANGS} == dict(CATALOGUE[key]), key


# -- sentences made by the domain ------------------------------------------------------------------


def test_a_flag_detail_reads_in_chinese() -> None:
    times = np.arange(500, dtype=np.int64) * 3_600_000_000
    values = np.sin(np.arange(500) / 20.0)
    values[300:] = values[300]
    flags = check_series(times, values, checks=Checks(), interval_s=3600.0, limit_min=None,
                         limit_max=None, unit="mm")
    first = next(iter(flags))
    assert first.message is not None and str(first.message) == first.detail
    assert first.detail.startswith("200 identical readings")
    chinese = first.message.render("zh")
    assert chinese.startswith("200 个相同测值") and "第 48 个测值起标记" in chinese


# -- the API answers in the reader's language ----------------------------------------------------


def post_beyond_the_alarm_limit(api: Any) -> None:
    late = "2024-01-02T08:00:00+08:00"
    report = api.post(
        "/api/readings", json={"readings": [{"channel": "PL1.radial", "time": late, "value": 45}]}
    ).json()
    assert report["accepted"] == 1, report


def threshold_alarm(client: Any, headers: dict[str, str] | None = None,
                    **params: str) -> dict[str, Any]:
    alarms = client.get("/api/alarms", params={"state": "open", **params}, headers=headers).json()
    return next(a for a in alarms if a["rule"] == "threshold")


def test_an_alarm_raised_by_the_analysis_reads_in_the_readers_language(
    api: Any, anonymous: Any
) -> None:
    post_beyond_the_alarm_limit(api)
    # the reading is also a data-check spike: the reason says so, in the same language
    english = ("PL1.radial 45 mm is above the alarm limit 40 (the data checks flag this "
               "reading: check the sensor)")
    chinese = "PL1.radial 45 mm 高于报警限值 40（数据检查标记了此测值：请检查传感器）"
    assert threshold_alarm(anonymous)["message"] == english
    assert threshold_alarm(anonymous, {"Accept-Language": "zh-CN,zh;q=0.9"})["message"] == chinese
    # the page's choice wins over the browser's: the cookie, or ?lang=
    cookie = {"Accept-Language": "zh-CN", "Cookie": "shuian_lang=en"}
    assert threshold_alarm(anonymous, cookie)["message"] == english
    assert threshold_alarm(anonymous, lang="zh")["message"] == chinese
    alarm_id = threshold_alarm(anonymous)["id"]
    detail = anonymous.get(f"/api/alarms/{alarm_id}", headers={"Accept-Language": "zh"}).json()
    assert detail["message"] == chinese and detail["history"][0]["message"] == chinese
    sites = anonymous.get("/api/sites", headers={"Accept-Language": "zh"}).json()
    assert sites[0]["worst_alarm"]["message"] == chinese


def test_an_explanation_reads_in_chinese(api: Any) -> None:
    body = api.get("/api/channels/PL1.radial/explain", params={"from": "2021-03-01",
                   "to": "2021-08-01"}, headers={"Accept-Language": "zh-CN"}).json()
    assert body["sentence"].startswith("PL1.radial 变化 ")
    assert "来自水位" in body["sentence"] and "随时间（时效）" in body["sentence"]


def test_a_rejected_reading_reads_in_chinese_when_posted_and_when_listed(api: Any) -> None:
    zh = {"Accept-Language": "zh-CN"}
    report = api.post("/api/readings", headers=zh, json={"readings": [
        {"channel": "NOPE", "time": "2024-01-02T08:00:00+08:00", "value": 1}]}).json()
    assert report["rejections"][0]["reason"] == "未知测点：'NOPE'"
    listed = api.get("/api/rejected", headers=zh).json()["items"][0]
    assert listed["reason"] == "未知测点：'NOPE'"
    assert api.get("/api/rejected").json()["items"][0]["reason"] == "unknown channel: 'NOPE'"


def test_an_error_response_reads_in_chinese(anonymous: Any) -> None:
    missing = anonymous.get("/api/alarms/999999", headers={"Accept-Language": "zh-CN"})
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["type"] == "NotFoundError"
    assert error["message"] == "没有报警 999999；'shuian alarms' 列出所有报警"
    english = anonymous.get("/api/alarms/999999").json()["error"]["message"]
    assert english == "no alarm 999999; 'shuian alarms' lists the alarms"
    unsigned = anonymous.post("/api/auth/logout", headers={"Accept-Language": "zh"})
    assert unsigned.status_code == 401
    assert unsigned.json()["error"]["message"].startswith("没有可结束的会话")


# -- a file reader's refusals read in Chinese (ingest/rows.py, files.py, validate.py) ------------


def zh_reasons(store: Store, stored: StoredSite, path: Path) -> dict[int | None, str]:
    """Ingest ``path`` (UTF-8), then each stored rejection's reason in Chinese, by line."""
    Ingestor(store, stored).ingest_file(path, encoding="utf-8")
    return {r.line: render_stored(r.reason, r.reason_key, r.reason_params, "zh")
            for r in store.rejections(stored.id, limit=100)}


def test_a_line_the_reader_cannot_read_is_refused_in_chinese(
    store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"channel,time,value\n"
                     b"WL.level,2024-06-01T00:00:00Z,\xb2\xe2\n"  # GBK, not UTF-8
                     b"WL.level\x00,2024-06-01T01:00:00Z,5\n"
                     b"WL.level,2024-06-01T02:00:00Z,5\rX\n"
                     b'WL.level,"2024-06-01T03:00:00Z,5\n')
    assert zh_reasons(store, stored_site, path) == {
        2: "该行不是 UTF-8 文本：行内第 31 字节处为字节 B2 E2"
           "（中文代码页的文件请用 --encoding gbk 读取）",
        3: "该行含有 NUL 字节（二进制文件或文件已损坏？）",
        4: "该行中间含有回车符（CR），而不是在行尾",
        5: "该行不是 CSV：引号括起的字段没有闭合",
    }


def test_a_long_csv_line_the_header_does_not_fit_is_refused_in_chinese(
    store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "long.csv"
    path.write_text("channel,time,value\n"
                    "WL.level,2024-06-01T00:00:00Z,120,9\n"
                    f"{'W' * (MAX_CHANNEL_TEXT + 1)},2024-06-01T00:00:00Z,120\n", encoding="utf-8")
    assert zh_reasons(store, stored_site, path) == {
        2: "该行的字段多于表头的 3 列",
        3: f"测点超过 {MAX_CHANNEL_TEXT} 个字符（没有这么长的测点编码）",
    }


def test_a_raw_reading_the_calibration_cannot_convert_is_refused_in_chinese(
    store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("channel,time,raw\nT1.temp,2024-01-01T01:00:00Z,-5\n", encoding="utf-8")
    assert zh_reasons(store, stored_site, path) == {
        2: "率定公式对此原始读数给不出测值（超出传感器量程？）"}


def test_a_toa5_line_with_a_field_past_the_header_is_refused_in_chinese(
    store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "logger.dat"
    path.write_text(TOA5_HEADER + '"2021-06-18 21:00:00",0,13.23,26.29,49.31,7\n',
                    encoding="utf-8")
    assert zh_reasons(store, stored_site, path) == {5: "该行的字段多于表头的 5 列"}


# -- notifications go out in the site's language --------------------------------------------------


def test_a_notification_is_sent_in_the_sites_language(store: Store, receiver: Receiver) -> None:
    reason = Message.of("alarm.envelope.back", channel="PL1.R")
    data = reason.to_json()
    chinese = RAISED.__class__(**{
        **vars(RAISED), "message": str(reason), "message_key": data["key"],
        "message_params": data["params"], "language": "zh", "site_name": "石门子水库",
    })
    Outbox(store, [WebhookNotifier(receiver.url)]).deliver(chinese)  # through the store's JSON
    (body,) = receiver.bodies
    assert body["message"] == "PL1.R 回到模型包络以内"
    assert (body["message_key"], body["language"]) == ("alarm.envelope.back", "zh")
    assert email_subject(chinese) == "[水安 警告] [合成数据] 石门子水库 PL1.R: 回到模型包络以内"
    english = RAISED.__class__(**{**vars(chinese), "language": "en", "site_name": "Shimenzi"})
    assert webhook_body(english)["message"] == "PL1.R back inside its model envelope"
