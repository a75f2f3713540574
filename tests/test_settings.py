"""Settings come from the environment; a bad one is named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import SettingsError, load_settings


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
