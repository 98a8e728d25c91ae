"""The catalogue: every sentence the server makes for a person, in English and Chinese.

One entry per key: ``"family.name": {"en": ..., "zh": ...}``, both texts with the same named
``{placeholders}`` (``str.format`` fields; a format spec such as ``{value:.6g}`` or a conversion
such as ``{code!r}`` is allowed). Keys that the page's dictionary (``web/static/i18n.js``) also
has (``state.*``, ``rule.*``, ``alarm_state.*``) must read the same there: a test checks it.

To add a sentence: add its key here with both texts, then make the code return
``Message.of(key, **params)`` (or raise ``SomeError(Message.of(...))``) instead of an f-string.
``tests/test_i18n.py`` fails on a key without a language, an empty text or placeholders that
differ between the languages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

__all__ = ["CATALOGUE", "Lang"]

Lang = Literal["en", "zh"]

_C: dict[str, dict[Lang, str]] = {
    # -- words shared with the page's dictionary ----------------------------------------------
    "state.normal": {"en": "normal", "zh": "正常"},
    "state.attention": {"en": "attention", "zh": "注意"},
    "state.warning": {"en": "warning", "zh": "警告"},
    "state.alarm": {"en": "alarm", "zh": "报警"},
    "rule.threshold": {"en": "threshold", "zh": "阈值"},
    "rule.rate": {"en": "rate of change", "zh": "变化速率"},
    "rule.envelope": {"en": "model envelope", "zh": "模型包络"},
    "rule.no_data": {"en": "no data", "zh": "无数据"},
    "alarm_state.raised": {"en": "raised", "zh": "已触发"},
    "alarm_state.escalated": {"en": "escalated", "zh": "已升级"},
    "alarm_state.acknowledged": {"en": "acknowledged", "zh": "已确认"},
    "alarm_state.cleared": {"en": "cleared", "zh": "已解除"},
    # -- the reservoir's characteristic levels as threshold labels (site/model.py) ------------
    "band.flood_limit": {"en": "flood-limit level", "zh": "汛限水位"},
    "band.design_flood": {"en": "design flood level", "zh": "设计洪水位"},
    "band.normal_pool": {"en": "normal pool level", "zh": "正常蓄水位"},
    # -- alarm reasons (services/analysis.py) ---------------------------------------------------
    "alarm.cleared": {"en": "{channel} back to normal", "zh": "{channel} 恢复正常"},
    "alarm.flagged": {
        "en": "{message} (the data checks flag this reading: check the sensor)",
        "zh": "{message}（数据检查标记了此测值：请检查传感器）",
    },
    "alarm.threshold.back": {
        "en": "{channel} back within its thresholds",
        "zh": "{channel} 回到阈值以内",
    },
    "alarm.threshold.at": {
        "en": "{channel} {value:.6g} {unit} is at the {level} level",
        "zh": "{channel} {value:.6g} {unit} 处于{level}级别",
    },
    "alarm.threshold.above": {
        "en": "{channel} {value:.6g} {unit} is above the {level} limit {limit:g}",
        "zh": "{channel} {value:.6g} {unit} 高于{level}限值 {limit:g}",
    },
    "alarm.threshold.below": {
        "en": "{channel} {value:.6g} {unit} is below the {level} limit {limit:g}",
        "zh": "{channel} {value:.6g} {unit} 低于{level}限值 {limit:g}",
    },
    "alarm.threshold.above_band": {
        "en": "{channel} {value:.6g} {unit} is above the {label} {limit:g} {unit} ({level})",
        "zh": "{channel} {value:.6g} {unit} 高于{label} {limit:g} {unit}（{level}）",
    },
    "alarm.threshold.below_band": {
        "en": "{channel} {value:.6g} {unit} is below the {label} {limit:g} {unit} ({level})",
        "zh": "{channel} {value:.6g} {unit} 低于{label} {limit:g} {unit}（{level}）",
    },
    "alarm.rate": {
        "en": "{channel} changes faster than its {level} rate limit ({limit} {unit}/day)",
        "zh": "{channel} 变化快于其{level}速率限值（{limit} {unit}/天）",
    },
    "alarm.envelope": {
        "en": "{channel} {value:.6g} {unit} is {sigmas:+.1f}σ from the {kind} prediction "
        "{predicted:.6g} {unit} (σ {sigma:.3g}; {effects})",
        "zh": "{channel} {value:.6g} {unit} 偏离 {kind} 模型预测值 {predicted:.6g} {unit} "
        "{sigmas:+.1f}σ（σ {sigma:.3g}；{effects}）",
    },
    "alarm.envelope.effect": {"en": "{name} {part:+.3g}", "zh": "{name} {part:+.3g}"},
    "alarm.envelope.back": {
        "en": "{channel} back inside its model envelope",
        "zh": "{channel} 回到模型包络以内",
    },
    "alarm.no_data": {
        "en": "no reading from {channel} since {since} (expected every {interval_h:g} h)",
        "zh": "{channel} 自 {since} 起无测值（应每 {interval_h:g} 小时一次）",
    },
    "alarm.no_data.back": {"en": "{channel} reports again", "zh": "{channel} 恢复上报"},
    # -- the model's components (as named in an envelope alarm) and effects (an explanation) --
    "component.hydrostatic": {"en": "hydrostatic", "zh": "水压分量"},
    "component.seasonal": {"en": "seasonal", "zh": "季节分量"},
    "component.thermal": {"en": "thermal", "zh": "温度分量"},
    "component.time": {"en": "time", "zh": "时效分量"},
    "component.rain": {"en": "rain", "zh": "降雨分量"},
    "explain.sentence": {
        "en": "{channel} changed {change:+.3g} {unit}: {effects}",
        "zh": "{channel} 变化 {change:+.3g} {unit}：{effects}",
    },
    "explain.effect": {"en": "{value:+.3g} {effect}", "zh": "{effect} {value:+.3g}"},
    "effect.hydrostatic": {"en": "from the water level", "zh": "来自水位"},
    "effect.seasonal": {"en": "seasonal", "zh": "季节"},
    "effect.thermal": {"en": "from temperature", "zh": "来自温度"},
    "effect.rain": {"en": "from rain", "zh": "来自降雨"},
    "effect.time": {"en": "with time (ageing)", "zh": "随时间（时效）"},
    "effect.other": {"en": "other", "zh": "其他"},
    # -- data-check flags (checks/flags.py); quantities come formatted with their unit ----------
    "flag.limits.below": {
        "en": "value {value} is below the physical minimum {limit}",
        "zh": "测值 {value} 低于物理下限 {limit}",
    },
    "flag.limits.above": {
        "en": "value {value} is above the physical maximum {limit}",
        "zh": "测值 {value} 高于物理上限 {limit}",
    },
    "flag.spike": {
        "en": "value {value} is {how_far} from the moving median {median} "
        "(Hampel, {window} readings, limit {sigmas:g} σ)",
        "zh": "测值 {value} 偏离滑动中位数 {median} {how_far}"
        "（Hampel 法，{window} 个测值，限值 {sigmas:g} σ）",
    },
    "flag.spike.sigmas": {
        "en": "{ratio:.3g} robust sigmas (σ = {sigma})",
        "zh": "{ratio:.3g} 个稳健标准差（σ = {sigma}）",
    },
    "flag.spike.off": {"en": "off (σ = 0)", "zh": "（σ = 0）"},
    "flag.provisional": {
        "en": "{detail}; provisional: judged on the latest readings until its window is centred",
        "zh": "{detail}；暂定：窗口居中之前按最新测值判断",
    },
    "flag.rate": {
        "en": "changed {change} in {duration} ({rate}/h), limit {limit}/h",
        "zh": "{duration}内变化 {change}（{rate}/h），限值 {limit}/h",
    },
    "flag.jump": {
        "en": "jumped {change} from {value} in {duration}: more than the {limit}/h it can "
        "physically change",
        "zh": "{duration}内自 {value} 跳变 {change}：超过物理上可能的 {limit}/h",
    },
    "flag.stuck.same": {
        "en": "{count} identical readings {value}",
        "zh": "{count} 个相同测值 {value}",
    },
    "flag.stuck.range": {
        "en": "{count} readings from {low} to {high} (every {length} in a row within "
        "{tolerance})",
        "zh": "{count} 个测值在 {low} 至 {high} 之间（任意连续 {length} 个相差不超过 {tolerance}）",
    },
    "flag.stuck": {
        "en": "{what} from {start} to {end}; flagged from the {ordinal} on",
        "zh": "{what}，自 {start} 至 {end}；从{ordinal}起标记",
    },
    "flag.stuck.latest": {
        "en": "{what} from {start} to {end} (the latest reading); flagged from the {ordinal} on",
        "zh": "{what}，自 {start} 至 {end}（至最新测值）；从{ordinal}起标记",
    },
    "flag.gap": {
        "en": "no reading for {duration} (expected every {interval}, gap above {factor:g}×) "
        "from {start} to {end}",
        "zh": "{start} 至 {end} 共 {duration}无测值（应每 {interval}一次，间隔超过 {factor:g} 倍）",
    },
    "ordinal.st": {"en": "{k}st reading", "zh": "第 {k} 个测值"},
    "ordinal.nd": {"en": "{k}nd reading", "zh": "第 {k} 个测值"},
    "ordinal.rd": {"en": "{k}rd reading", "zh": "第 {k} 个测值"},
    "ordinal.th": {"en": "{k}th reading", "zh": "第 {k} 个测值"},
    "duration.days": {"en": "{n:.3g} days", "zh": "{n:.3g} 天"},
    "duration.h": {"en": "{n:.3g} h", "zh": "{n:.3g} 小时"},
    "duration.min": {"en": "{n:.3g} min", "zh": "{n:.3g} 分钟"},
    "duration.s": {"en": "{n:.3g} s", "zh": "{n:.3g} 秒"},
    # -- rejected rows (ingest/validate.py); {text} is the row's own text, cut to 60 ----------
    "column.value": {"en": "value", "zh": "测值"},
    "column.raw": {"en": "raw", "zh": "原始读数"},
    "reject.channel_empty": {"en": "channel is empty", "zh": "测点为空"},
    "reject.unknown_channel": {"en": "unknown channel: '{text}'", "zh": "未知测点：'{text}'"},
    "reject.time_empty": {"en": "time is empty", "zh": "时间为空"},
    "reject.time_ambiguous": {
        "en": "local time does not exist or is ambiguous in {timezone}",
        "zh": "该当地时间在 {timezone} 中不存在或有歧义",
    },
    "reject.time_range": {
        "en": "time is outside the supported range: '{text}'",
        "zh": "时间超出支持的范围：'{text}'",
    },
    "reject.time_format": {
        "en": "time is not ISO 8601 (YYYY-MM-DDTHH:MM[:SS][±HH:MM]): '{text}'",
        "zh": "时间不是 ISO 8601 格式（YYYY-MM-DDTHH:MM[:SS][±HH:MM]）：'{text}'",
    },
    "reject.too_early": {
        "en": "time is before the site's earliest date {earliest} (ingest.earliest in the site "
        "file; a logger clock never set?): '{text}'",
        "zh": "时间早于工程的最早日期 {earliest}（站点文件中的 ingest.earliest；"
        "采集器时钟从未设置？）：'{text}'",
    },
    "reject.future": {
        "en": "time is more than {ahead} in the future (check the logger clock and time zone; "
        "ingest.future_allowance_s in the site file): '{text}'",
        "zh": "时间超前超过 {ahead}（请检查采集器时钟与时区；"
        "站点文件中的 ingest.future_allowance_s）：'{text}'",
    },
    "reject.empty": {"en": "{kind} is empty", "zh": "{kind}为空"},
    "reject.not_number": {
        "en": "{kind} is not a number: '{text}'",
        "zh": "{kind}不是数字：'{text}'",
    },
    "reject.infinite": {"en": "{kind} is infinite", "zh": "{kind}为无穷大"},
    "reject.temperature_not_number": {
        "en": "temperature is not a number: '{text}'",
        "zh": "温度不是数字：'{text}'",
    },
    "reject.below_minimum": {
        "en": "value {value:g} is below the minimum {limit:g} of channel {channel}",
        "zh": "测值 {value:g} 低于测点 {channel} 的下限 {limit:g}",
    },
    "reject.above_maximum": {
        "en": "value {value:g} is above the maximum {limit:g} of channel {channel}",
        "zh": "测值 {value:g} 高于测点 {channel} 的上限 {limit:g}",
    },
    "reject.needs_temperature": {
        "en": "channel {channel} needs a temperature for its thermal correction; add a "
        "temperature column",
        "zh": "测点 {channel} 的温度修正需要温度：请添加温度列",
    },
    "reject.calibration_no_value": {
        "en": "the calibration gives no value for this raw reading (outside the sensor's range?)",
        "zh": "率定公式对此原始读数给不出测值（超出传感器量程？）",
    },
    # -- lines a file reader refuses (ingest/rows.py, ingest/files.py) -------------------------
    "reject.line_too_long": {
        "en": "the line is {size:,} bytes long, longer than the {most:,} a line may have "
        "(its first {kept:,} bytes are kept)",
        "zh": "该行长 {size:,} 字节，超过一行允许的 {most:,} 字节（保留其前 {kept:,} 字节）",
    },
    "reject.nul_byte": {
        "en": "the line holds a NUL byte (a binary or damaged file?)",
        "zh": "该行含有 NUL 字节（二进制文件或文件已损坏？）",
    },
    "reject.bare_cr": {
        "en": "the line holds a carriage return (CR) that does not end it",
        "zh": "该行中间含有回车符（CR），而不是在行尾",
    },
    "reject.not_encoding": {
        "en": "the line is not {encoding} text: byte(s) {shown} at byte {at} of the line",
        "zh": "该行不是 {encoding} 文本：行内第 {at} 字节处为字节 {shown}",
    },
    "reject.not_utf8": {
        "en": "the line is not {encoding} text: byte(s) {shown} at byte {at} of the line "
        "(a file in a Chinese code page is read with --encoding gbk)",
        "zh": "该行不是 {encoding} 文本：行内第 {at} 字节处为字节 {shown}"
        "（中文代码页的文件请用 --encoding gbk 读取）",
    },
    "reject.quote_not_closed": {
        "en": "the line is not CSV: a quoted field is not closed",
        "zh": "该行不是 CSV：引号括起的字段没有闭合",
    },
    "reject.extra_fields": {
        "en": "the line has more fields than the header's {columns} column(s)",
        "zh": "该行的字段多于表头的 {columns} 列",
    },
    "reject.channel_too_long": {
        "en": "channel is longer than {most} characters (no code is)",
        "zh": "测点超过 {most} 个字符（没有这么长的测点编码）",
    },
    # -- errors answered to a person (API, CLI) -------------------------------------------------
    "error.internal": {
        "en": "internal error; the server log has the details",
        "zh": "内部错误；详情见服务器日志",
    },
    "error.no_channel": {
        "en": "no channel {code!r}; 'shuian channels' lists the channels",
        "zh": "没有测点 {code!r}；'shuian channels' 列出所有测点",
    },
    "error.no_channel_in_site": {
        "en": "no channel {code!r} in site {site}; GET /api/channels lists the channels",
        "zh": "工程 {site} 中没有测点 {code!r}；GET /api/channels 列出所有测点",
    },
    "error.no_model": {
        "en": "channel {code} has no fitted model: run 'shuian fit' first",
        "zh": "测点 {code} 尚无拟合模型：请先运行 'shuian fit'",
    },
    "error.no_modelled_readings": {
        "en": "{code} has no modelled readings near those times",
        "zh": "{code} 在这些时间附近没有可由模型解释的测值",
    },
    "error.no_alarm": {
        "en": "no alarm {id}; 'shuian alarms' lists the alarms",
        "zh": "没有报警 {id}；'shuian alarms' 列出所有报警",
    },
    "error.no_alarm_in_site": {
        "en": "no alarm {id} in site {site}",
        "zh": "工程 {site} 中没有报警 {id}",
    },
    "error.alarm_cleared": {"en": "alarm {id} is already cleared", "zh": "报警 {id} 已解除"},
    "error.no_flag": {"en": "no flag {id}", "zh": "没有标记 {id}"},
    "error.end_before_start": {
        "en": "end ({end}) must be after start ({start})",
        "zh": "结束时间（{end}）必须晚于开始时间（{start}）",
    },
    "error.explain_times": {
        "en": "from and to are required (ISO 8601 times)",
        "zh": "需要 from 和 to（ISO 8601 时间）",
    },
    "error.flag_time": {
        "en": "time is required: the reading's time, ISO 8601",
        "zh": "需要 time：测值的时间，ISO 8601 格式",
    },
    "error.no_credentials": {
        "en": "no credentials: log in first (POST /api/auth/login)",
        "zh": "没有凭据：请先登录（POST /api/auth/login）",
    },
    "error.no_session": {
        "en": "no session to end: log in first (POST /api/auth/login)",
        "zh": "没有可结束的会话：请先登录（POST /api/auth/login）",
    },
    "error.session_expired": {
        "en": "the session has expired or ended: log in again (POST /api/auth/login)",
        "zh": "会话已过期或已结束：请重新登录（POST /api/auth/login）",
    },
    "error.api_key_unknown": {
        "en": "the API key is unknown or revoked: ask an admin for one",
        "zh": "API 密钥未知或已吊销：请向管理员申请",
    },
    "error.bad_login": {
        "en": "wrong user name or password, or the user is disabled",
        "zh": "用户名或密码错误，或该用户已停用",
    },
    "error.too_many_logins": {
        "en": "too many failed logins for {username!r}: try again in {wait} s",
        "zh": "{username!r} 登录失败次数过多：请 {wait} 秒后重试",
    },
    "error.role_needed": {
        "en": "user {name!r} is {role}: this needs the {needed} role or above",
        "zh": "用户 {name!r} 的角色为 {role}：此操作需要 {needed} 或更高角色",
    },
    # -- notifications (notify/message.py) -------------------------------------------------------
    "notify.subject": {"en": "[Shuian {level}]", "zh": "[水安 {level}]"},
    "notify.synthetic_tag": {"en": "[SYNTHETIC DATA]", "zh": "[合成数据]"},
    # -- camera alarms (services/cameras.py) ------------------------------------------------
    "camera.event": {"en": "{reason}", "zh": "{reason}"},
    "camera.event_over": {
        "en": "camera {camera}: the event is over", "zh": "摄像机 {camera}：事件已结束",
    },
    "camera.disagree": {
        "en": "camera and sensor disagree: the staff gauge on camera {camera} reads {level} m, "
              "{sensor} {sensor_level} m ({difference:+} m, tolerance {tolerance} m): one of "
              "them is wrong",
        "zh": "摄像机与水位计不一致：摄像机 {camera} 的水尺读数为 {level} m，{sensor} 为 "
              "{sensor_level} m（相差 {difference:+} m，允许 {tolerance} m）：其中之一有误",
    },
    "camera.no_signal": {"en": "no signal for {seconds} s", "zh": "{seconds} 秒无视频信号"},
    "camera.frozen": {"en": "frozen image", "zh": "画面冻结"},
    "camera.dark": {"en": "too dark (brightness {brightness})",
                    "zh": "画面过暗（亮度 {brightness}）"},
    "camera.covered": {"en": "covered (the picture is flat)", "zh": "镜头被遮挡（画面无内容）"},
    "camera.blurred": {"en": "out of focus (sharpness {sharpness})",
                       "zh": "画面模糊（清晰度 {sharpness}）"},
    "camera.turned_away": {"en": "turned away or covered (the scene does not match)",
                           "zh": "摄像机被转动或遮挡（画面与参考场景不符）"},
    "camera.gauge_unreadable": {"en": "the staff gauge cannot be read", "zh": "无法读取水尺"},
    "camera.intrusion": {"en": "person in zone {zone} for {seconds} s",
                         "zh": "有人进入{zone}区域 {seconds} 秒"},
    "camera.spillway_flow": {"en": "spillway flow in {zone} ({share}% of it)",
                             "zh": "{zone}有水流（占 {share}%）"},
    "camera.debris": {"en": "floating debris in {zone} ({share}% of it)",
                      "zh": "{zone}有漂浮物（占 {share}%）"},
    "camera.agree_again": {
        "en": "camera {camera} and {sensor} agree again",
        "zh": "摄像机 {camera} 与 {sensor} 已恢复一致",
    },
}

#: Key -> {"en": text, "zh": text}.
CATALOGUE: Final[Mapping[str, Mapping[Lang, str]]] = _C
