"""Configuration from the environment (an optional ``.env`` file, secret files), validated up front.

Every setting is read here once per run (``assistant.cli.deps``) and passed down; nothing else reads the
environment.  A bad or missing setting stops start-up with a message naming the variable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from analytics.words import is_currency
from assistant.errors import UserFacingError
from db.engine import DatabaseUrlError, normalise_database_url

DEFAULT_DATABASE_URL = "sqlite:///crm-bot.db"


class Settings(BaseSettings):
    """All of crm-bot's settings.  Environment variable names are given as aliases."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      populate_by_name=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, alias="DATABASE_URL",
                              description="SQLAlchemy URL of the store: sqlite:///PATH or postgresql://...")
    rejects_dir: Path = Field(Path("rejects"), alias="CRM_REJECTS_DIR",
                              description="Where importers write the rows they reject, with reasons.")
    import_batch_rows: int = Field(20_000, ge=100, le=1_000_000, alias="CRM_IMPORT_BATCH_ROWS",
                                   description="Rows per import transaction.")
    keep_analytics_runs: int = Field(12, ge=2, le=10_000, alias="CRM_KEEP_ANALYTICS_RUNS",
                                     description="Completed analytics runs kept; older ones are deleted after "
                                                 "each refresh.")
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN",
                                              description="Bot token (xoxb-...) for `crm-bot serve`; never logged.")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET",
                                                   description="Signing secret, for HTTP mode; never logged.")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN",
                                              description="App-level token (xapp-...): set it to use Socket Mode.")
    slack_api_url: str | None = Field(None, alias="SLACK_API_URL",
                                      description="Web API base URL; only for a local fake Slack.")
    http_port: int = Field(3000, ge=1, le=65535, alias="CRM_HTTP_PORT",
                           description="Port of HTTP mode (Slack's request URL points here).")
    http_path: str = Field("/slack/events", alias="CRM_HTTP_PATH", pattern="^/",
                           description="Path of Slack's request URL in HTTP mode.")
    admins: str = Field("", alias="CRM_ADMINS",
                        description="Slack member ids (comma-separated) who are admins whatever the store says: "
                                    "the first admins, who grant the other roles.")
    default_role: str = Field("viewer", alias="CRM_DEFAULT_ROLE", pattern="^(admin|manager|rep|marketer|viewer)$",
                              description="Role of Slack users who were granted none (viewer: aggregates only).")
    min_group_size: int = Field(5, ge=1, le=1000, alias="CRM_MIN_GROUP_SIZE",
                                description="In channels, segments, movements and rules describing fewer customers "
                                            "than this are merged or left out (they could identify people).")
    rate_limit_per_minute: int = Field(30, ge=1, le=10_000, alias="CRM_RATE_LIMIT_PER_MINUTE",
                                       description="Commands, clicks and questions one user may send a minute "
                                                   "(per bot process); more get a friendly \"try again in N s\".")
    timezone: str = Field("UTC", alias="CRM_TIMEZONE",
                          description="Time zone of digest subscriptions that name none (IANA, e.g. Europe/London).")
    digest_grace_minutes: int = Field(120, ge=0, le=10_080, alias="CRM_DIGEST_GRACE_MINUTES",
                                      description="A digest missed while the bot was down is still posted this "
                                                  "long after its time; later it is skipped and logged.")
    digest_lease_seconds: int = Field(300, ge=1, le=86_400, alias="CRM_DIGEST_LEASE_SECONDS",
                                      description="How long a scheduler holds a digest it claimed before another "
                                                  "one may reconcile and take over; a post may take a third of "
                                                  "it, and a takeover waits a further third for it to land.")
    digest_retry_hours: int = Field(12, ge=0, le=168, alias="CRM_DIGEST_RETRY_HOURS",
                                    description="A digest that could not be posted (bot not in the channel, "
                                                "channel archived) is tried again every minute for this long "
                                                "after its time, so fixing the cause brings it.")
    reminder_grace_minutes: int = Field(60, ge=0, le=10_080, alias="CRM_REMINDER_GRACE_MINUTES",
                                        description="A follow-up reminder owed while the scheduler was down is "
                                                    "still sent this long after its time; later it is marked "
                                                    "missed and listed by /crm tasks. Its claims use "
                                                    "CRM_DIGEST_LEASE_SECONDS.")
    refresh_schedule: str = Field("", alias="CRM_REFRESH_SCHEDULE",
                                  description="Crontab line for the scheduler's analytics refresh, in CRM_TIMEZONE "
                                              "(e.g. `0 2 * * *`, nightly at 02:00); empty: no scheduled refresh.")
    sources_file: Path | None = Field(None, alias="CRM_SOURCES_FILE",
                                      description="TOML file naming the databases `crm-bot sync` reads orders and "
                                                  "customers from (docs/syncing.md); unset: no database sources.")
    inbox_dir: Path | None = Field(None, alias="CRM_INBOX_DIR",
                                   description="Folder whose CSV exports `crm-bot sync` imports by their header, "
                                               "then moves to done/ or failed/; unset: no inbox.")
    sync_schedule: str = Field("", alias="CRM_SYNC_SCHEDULE",
                               description="Crontab line (in CRM_TIMEZONE) for the scheduler's sync of every source "
                                           "and the inbox, followed by a refresh when anything new arrived; empty: "
                                           "sync only when `crm-bot sync` is run.")
    dask_scheduler: str | None = Field(None, alias="CRM_DASK_SCHEDULER", pattern="^(tcp|tls)://",
                                       description="Address of a Dask distributed scheduler (tcp://host:8786): the "
                                                   "refresh's partitioned steps run on its workers; unset: in the "
                                                   "refreshing process.")
    refresh_workers: int = Field(1, ge=1, le=64, alias="CRM_REFRESH_WORKERS",
                                 description="Processes of this machine that score the refresh's partitions "
                                             "(PostgreSQL stores; 1: the refreshing process alone). Ignored when "
                                             "CRM_DASK_SCHEDULER is set.")
    retrain_after_days: int = Field(30, ge=1, le=3650, alias="CRM_RETRAIN_AFTER_DAYS",
                                    description="After each scheduled refresh, a prediction-builder model older "
                                                "than this, or whose features have shifted (PSI >= 0.25), is "
                                                "trained again with the options it was trained with.")
    scheduler_in_serve: bool = Field(False, alias="CRM_SCHEDULER_IN_SERVE",
                                     description="Run the digest scheduler inside `crm-bot serve` (else run "
                                                 "`crm-bot scheduler` on its own).")
    scheduler_tick_seconds: int = Field(30, ge=1, le=3600, alias="CRM_SCHEDULER_TICK_SECONDS",
                                        description="How often the scheduler looks for digests that are due.")
    health_port: int = Field(8080, ge=0, le=65535, alias="CRM_HEALTH_PORT",
                             description="Port of /healthz, /readyz and /metrics (Prometheus) for `crm-bot serve` "
                                         "and `crm-bot scheduler`; 0 turns them off.")
    conversation_idle_minutes: int = Field(30, ge=1, le=10_080, alias="CRM_CONVERSATION_IDLE_MINUTES",
                                           description="A follow-up (\"and in France?\") refines the previous "
                                                       "question in a thread or DM for this long after it.")
    llm_url: str = Field("", alias="CRM_LLM_URL",
                         description="OpenAI-compatible chat-completions endpoint (e.g. http://127.0.0.1:11434/v1 "
                                     "for Ollama) asked when a question is unclear; empty: no language model.")
    llm_model: str = Field("", alias="CRM_LLM_MODEL", description="Model name sent to CRM_LLM_URL (e.g. llama3.1).")
    llm_key: SecretStr | None = Field(None, alias="CRM_LLM_KEY",
                                      description="API key for CRM_LLM_URL, sent as a bearer token; never logged.")
    llm_timeout_seconds: float = Field(8.0, gt=0, le=120, alias="CRM_LLM_TIMEOUT_SECONDS",
                                       description="How long to wait for the language model before asking back.")
    currency: str = Field("", alias="CRM_CURRENCY",
                          description="ISO 4217 code money is shown in (GBP, EUR, USD), from the next refresh; "
                                      "with orders in several currencies, the one analysed (the others are kept "
                                      "apart, never converted). Empty: the currency most orders are in, else the "
                                      "one the imports recorded (Online Retail: GBP).")
    log_format: str = Field("text", alias="CRM_LOG_FORMAT", pattern="^(text|json)$",
                            description="`json` for one JSON object per log line (with request ids), else text.")
    log_level: str = Field("WARNING", alias="CRM_LOG_LEVEL", pattern="^(DEBUG|INFO|WARNING|ERROR)$",
                           description="Python logging level.")

    @field_validator("refresh_schedule", "sync_schedule")
    @classmethod
    def _valid_crontab(cls, value: str) -> str:
        if value.strip():
            try:
                CronTrigger.from_crontab(value.strip())
            except ValueError as exc:
                raise ValueError(f"not a crontab line (minute hour day month weekday): {exc}") from exc
        return value.strip()

    @field_validator("llm_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = value.strip()
        if url and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise ValueError("give the http:// or https:// URL of an OpenAI-compatible API, e.g. "
                             "http://127.0.0.1:11434/v1 (Ollama) or http://127.0.0.1:8080/v1 (llama.cpp)")
        return url

    @model_validator(mode="after")
    def _model_named(self) -> Settings:
        if self.llm_url and not self.llm_model.strip():
            raise ValueError("CRM_LLM_MODEL: name the model to ask at CRM_LLM_URL (e.g. llama3.1)")
        return self

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        code = value.strip().upper()
        if code and not is_currency(code):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. GBP, EUR, USD)")
        return code

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        try:
            normalise_database_url(value)
        except DatabaseUrlError as exc:
            raise ValueError(str(exc)) from exc
        return value


def admin_ids(settings: Settings) -> frozenset[str]:
    """``CRM_ADMINS`` as a set of Slack member ids."""
    return frozenset(admins_in_order(settings))


def admins_in_order(settings: Settings) -> list[str]:
    """``CRM_ADMINS`` as written (the first is told about digests subscribed at the terminal)."""
    return [part.strip() for part in settings.admins.split(",") if part.strip()]


class SettingsError(UserFacingError):
    """Settings that cannot be used; the message names each bad variable."""


def describe_settings_error(error: ValidationError) -> str:
    """One line per problem, naming the environment variable to fix."""
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "?"
        alias = Settings.model_fields[field].alias if field in Settings.model_fields else field
        given = problem.get("input")
        # passwords, tokens and keys are never echoed
        secret = field in ("database_url", "DATABASE_URL") or "slack" in field.lower() or "key" in field.lower()
        shown = f" (got {given!r})" if given is not None and not secret and not isinstance(given, dict) else ""
        message = problem["msg"].removeprefix("Value error, ")
        # a rule over several settings (no location) names its variable in its message
        lines.append(f"{alias or field}: {message}{shown}" if problem["loc"] else message)
    return "Configuration error:\n  " + "\n  ".join(lines) + \
        "\nSet it in the environment or in a .env file (see README, Configuration)."


SECRETS_DIR_VARIABLE = "CRM_SECRETS_DIR"
DEFAULT_SECRETS_DIR = Path("/run/secrets")
"""Where Docker and Compose mount secrets: one file per variable, named like it."""


def secrets_dir() -> Path | None:
    """Where secret files are read from (``CRM_SECRETS_DIR``, else /run/secrets if present).

    A file named like a variable (``SLACK_BOT_TOKEN``, ``DATABASE_URL``...) sets it, so tokens
    and passwords need not be in the environment; a variable that is set wins over its file.
    """
    named = os.environ.get(SECRETS_DIR_VARIABLE)
    if named:
        folder = Path(named)
        if not folder.is_dir():
            raise SettingsError(f"Configuration error:\n  {SECRETS_DIR_VARIABLE}: {named!r} is not a directory")
        return folder
    return DEFAULT_SECRETS_DIR if DEFAULT_SECRETS_DIR.is_dir() else None


def load_settings(**overrides: object) -> Settings:
    """Read settings (environment, .env, secret files); raise ``SettingsError`` if any is bad."""
    try:
        return Settings(_secrets_dir=secrets_dir(), **overrides)  # type: ignore[call-arg, arg-type]  # pydantic-settings init kwargs
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc)) from exc
