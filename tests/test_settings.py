"""The process's settings: one class, read from SHUIAN_ variables, every one documented."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from shuian.cli import app
from shuian.errors import InvalidRequestError
from shuian.settings import Settings, settings
from shuian.store import open_store

README = Path(__file__).parents[1] / "README.md"


def settings_table() -> dict[str, str]:
    """The README's Settings table: each variable with its default column."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(SHUIAN_[A-Z0-9_]+)` \| ([^|]+) \|", section, re.MULTILINE))


def test_every_setting_is_documented_in_the_readme_and_nothing_else_is() -> None:
    variables = {Settings.variable(name) for name in Settings.model_fields}
    assert set(settings_table()) == variables


def test_the_readme_gives_each_setting_its_default() -> None:
    defaults = Settings.from_env({})
    documented = {name: value.strip().strip("`") for name, value in settings_table().items()}
    for field in Settings.model_fields:
        value = getattr(defaults, field)
        shown = documented[Settings.variable(field)]
        if value is None or value == ():
            assert shown == "none", field
        elif isinstance(value, bool):
            assert shown == ("1" if value else "0"), field
        elif isinstance(value, float | int):
            assert float(shown) == value, field
        else:
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            assert shown == str(plain), field


def test_without_variables_the_defaults_hold() -> None:
    defaults = Settings.from_env({})
    assert defaults.db.get_secret_value() == "sqlite:///shuian.db"
    assert (defaults.session_hours, defaults.require_login_for_reads) == (12, False)
    assert (defaults.trusted_proxies, defaults.allowed_origins) == ((), ())
    assert defaults.media_dir is None  # the store's: beside its SQLite file, or ./media
    assert defaults.worker_enabled
    assert defaults.smtp_password is None and defaults.mqtt_password is None


def test_variables_are_parsed_lists_by_commas_or_spaces() -> None:
    given = Settings.from_env({
        "SHUIAN_DB": "postgresql://shuian@db/shuian",
        "SHUIAN_SESSION_HOURS": " 8.5 ",
        "SHUIAN_REQUIRE_LOGIN_FOR_READS": "yes",
        "SHUIAN_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.1/8 ::1",
        "SHUIAN_ALLOWED_ORIGINS": "https://a.example,http://b.example:8080",
        "SHUIAN_MAX_RECORDS": "500",
        "SHUIAN_MEDIA_DIR": "/srv/shuian/media",
        "SHUIAN_WORKER": "0",
        "SHUIAN_WORKER_LEASE_S": "120",
    })
    assert given.db.get_secret_value() == "postgresql://shuian@db/shuian"
    assert given.session_hours == 8.5
    assert given.require_login_for_reads
    assert given.trusted_proxies == (
        ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    assert given.allowed_origins == ("https://a.example", "http://b.example:8080")
    assert given.max_records == 500
    assert given.media_dir == Path("/srv/shuian/media")
    assert not given.worker_enabled
    assert given.worker_lease_s == 120


def test_an_empty_variable_is_as_if_unset() -> None:
    assert Settings.from_env({"SHUIAN_SESSION_HOURS": "", "SHUIAN_WORKER": " "}) == (
        Settings.from_env({}))


def test_the_environment_and_a_mapping_give_the_same_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = {"SHUIAN_SESSION_HOURS": "3", "SHUIAN_TRUSTED_PROXIES": "10.0.0.0/8 ::1",
             "SHUIAN_WORKER": "no", "SHUIAN_SMTP_PASSWORD": "pa55"}
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    assert settings() == Settings.from_env(given) == Settings()


def test_the_process_settings_are_read_again_only_when_a_variable_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHUIAN_SESSION_HOURS", "6")
    first = settings()
    assert settings() is first
    monkeypatch.setenv("SHUIAN_SESSION_HOURS", "7")
    assert settings().session_hours == 7


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SHUIAN_SESSION_HOURS": "abc"}, "SHUIAN_SESSION_HOURS='abc': input should be a valid"),
        ({"SHUIAN_SESSION_HOURS": "745"}, "SHUIAN_SESSION_HOURS='745': input should be less"),
        ({"SHUIAN_REQUIRE_LOGIN_FOR_READS": "maybe"}, "SHUIAN_REQUIRE_LOGIN_FOR_READS='maybe'"),
        ({"SHUIAN_WORKER": "sometimes"}, "SHUIAN_WORKER='sometimes': input should be a valid bool"),
        ({"SHUIAN_WORKER_POLL_S": "0"}, "SHUIAN_WORKER_POLL_S='0': input should be greater"),
        ({"SHUIAN_TRUSTED_PROXIES": "10.0.0.1 proxy.lan"},
         "SHUIAN_TRUSTED_PROXIES: 'proxy.lan' is not an IP address or network"),
        ({"SHUIAN_ALLOWED_ORIGINS": "dam.example"},
         "SHUIAN_ALLOWED_ORIGINS: 'dam.example' is not an origin"),
    ],
)
def test_a_wrong_value_is_named_with_its_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(named)):
        Settings.from_env(env)


def test_every_wrong_value_is_named_in_one_error() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        Settings.from_env({"SHUIAN_SESSION_HOURS": "abc", "SHUIAN_MAX_RECORDS": "-1",
                           "SHUIAN_TRUSTED_PROXIES": "proxy.lan"})
    message = str(caught.value)
    assert all(name in message for name in
               ["SHUIAN_SESSION_HOURS", "SHUIAN_MAX_RECORDS", "SHUIAN_TRUSTED_PROXIES"])
    assert "README" in message


def test_secrets_are_not_shown() -> None:
    given = Settings.from_env({"SHUIAN_DB": "postgresql://shuian:dbpa55@db/shuian",
                               "SHUIAN_SMTP_PASSWORD": "smtppa55",
                               "SHUIAN_MQTT_PASSWORD": "mqttpa55"})
    for shown in (repr(given), str(given), given.model_dump_json()):
        assert "pa55" not in shown
    assert given.smtp_password is not None and given.mqtt_password is not None
    assert given.smtp_password.get_secret_value() == "smtppa55"
    assert given.mqtt_password.get_secret_value() == "mqttpa55"


def test_a_password_variable_is_the_settings_or_the_environment_it_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DAM_BROKER_PW", "brokerpa55")
    monkeypatch.delenv("UNSET_VARIABLE", raising=False)
    given = Settings.from_env({"SHUIAN_SMTP_PASSWORD": "smtppa55"})
    smtp, broker = given.secret("SHUIAN_SMTP_PASSWORD"), given.secret("DAM_BROKER_PW")
    assert smtp is not None and smtp.get_secret_value() == "smtppa55"
    assert broker is not None and broker.get_secret_value() == "brokerpa55"
    assert given.secret("SHUIAN_MQTT_PASSWORD") is None
    assert given.secret("UNSET_VARIABLE") is None


def test_the_store_opens_the_database_the_settings_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHUIAN_DB", f"sqlite:///{tmp_path / 'from-env.db'}")
    open_store().close()
    assert (tmp_path / "from-env.db").is_file()


def test_a_wrong_value_stops_serve_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}"],
        env={"SHUIAN_SESSION_HOURS": "abc"}, catch_exceptions=False,
    )
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: SHUIAN_SESSION_HOURS='abc'")
    assert "Traceback" not in result.output


def test_the_store_names_the_same_default_database_as_the_settings():
    from shuian.settings import DEFAULT_DB
    from shuian.store import DEFAULT_URL

    assert DEFAULT_URL == DEFAULT_DB
