"""Settings come from the environment; a bad one is named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.ops.settings import SettingsError, load_settings


def test_defaults_need_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "CRM_REJECTS_DIR", "CRM_IMPORT_BATCH_ROWS", "CRM_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///crm-bot.db"
    assert settings.import_batch_rows == 20_000


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CRM_IMPORT_BATCH_ROWS=500\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://crm@db:5432/crm")
    monkeypatch.delenv("CRM_IMPORT_BATCH_ROWS", raising=False)
    settings = load_settings()
    assert settings.import_batch_rows == 500
    assert settings.database_url.startswith("postgresql://")


def test_bad_settings_name_the_variable_and_hide_the_database_password(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "mysql://admin:s3cret@db/crm")
    monkeypatch.setenv("CRM_IMPORT_BATCH_ROWS", "lots")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "DATABASE_URL: database backend 'mysql' is not supported" in message
    assert "CRM_IMPORT_BATCH_ROWS" in message and "'lots'" in message
    assert "s3cret" not in message


def test_a_refresh_schedule_must_be_a_crontab_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRM_REFRESH_SCHEDULE", "every night")
    with pytest.raises(SettingsError, match=r"CRM_REFRESH_SCHEDULE: .*not a crontab line"):
        load_settings()
    monkeypatch.setenv("CRM_REFRESH_SCHEDULE", " 0 2 * * * ")
    assert load_settings().refresh_schedule == "0 2 * * *"


def test_the_currency_must_be_an_iso_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRM_CURRENCY", "pounds")
    with pytest.raises(SettingsError, match=r"CRM_CURRENCY: .*not an ISO 4217 currency code"):
        load_settings()
    monkeypatch.setenv("CRM_CURRENCY", " eur ")
    assert load_settings().currency == "EUR"


def test_secrets_can_come_from_files_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "SLACK_BOT_TOKEN").write_text("xoxb-from-a-file\n")
    (secrets / "DATABASE_URL").write_text("postgresql://crm:s3cret@db:5432/crm\n")
    monkeypatch.setenv("CRM_SECRETS_DIR", str(secrets))
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == "xoxb-from-a-file"
    assert settings.database_url == "postgresql://crm:s3cret@db:5432/crm"
    assert "xoxb-from-a-file" not in repr(settings) and "xoxb-from-a-file" not in str(settings.model_dump())
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    assert load_settings().slack_bot_token.get_secret_value() == "xoxb-from-the-environment"  # type: ignore[union-attr]
    monkeypatch.setenv("CRM_SECRETS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(SettingsError, match=r"CRM_SECRETS_DIR: .* is not a directory"):
        load_settings()
