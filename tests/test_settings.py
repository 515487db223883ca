"""Settings: typed, from the environment, a bad value stops start-up with one clear sentence."""

from __future__ import annotations

import pytest

from bot import cli
from bot.settings import Settings, SettingsError, load_settings


def test_defaults_run_on_the_embedded_sqlite_database_in_indonesian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "sqlite:///ksbb.db"
    assert settings.default_locale == "id"
    assert str(settings.tz) == "Asia/Jakarta"
    assert settings.telegram_global_per_second == 30 and settings.telegram_chat_burst == 3


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("TELEGRAM_GLOBAL_PER_SECOND", "fast", "Setting TELEGRAM_GLOBAL_PER_SECOND is invalid"),
        ("DATABASE_URL", "mysql://x", "Setting DATABASE_URL is invalid"),
        ("DEFAULT_LOCALE", "fr", "Setting DEFAULT_LOCALE is invalid"),
        ("TIMEZONE", "Mars/Olympus", "Setting TIMEZONE is invalid"),
    ],
)
def test_a_malformed_setting_is_one_clear_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, sentence: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=sentence):
        load_settings()
    assert cli.main(["run"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(sentence) and err.count("\n") == 0


def test_the_token_is_a_secret_that_never_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    settings = load_settings()
    assert "AAAA" not in repr(settings) and "AAAA" not in str(settings.model_dump())
