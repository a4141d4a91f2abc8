"""Service settings: the only place that reads the environment.

Every setting is an environment variable prefixed `CDS_`; the names are a
contract other tools (container, sandbox set-up, CI) rely on. Settings are
checked once, at start-up.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from service.auth import TrustedIssuers, parse_trusted_issuers
from service.clinical.thresholds import ClinicalThresholds
from service.fhir.client import FhirLimits

#: The patient-hash key with authentication off when none is set (logged as a warning).
DEV_HASH_KEY = "footdrop-cds-development-key-not-secret"
MIN_SECRET_CHARS = 32


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDS_", env_nested_delimiter="__", extra="ignore")

    public_base_url: str = "http://127.0.0.1:8080"
    """Base URL clients call; JWT `aud` and absolute links are built from it."""

    auth_mode: Literal["off", "jwt"] = "off"
    """`off` accepts unauthenticated calls (development; state across calls is then
    disabled); `jwt` verifies the EHR's JWT on every call (the container's default)."""

    trusted_issuers: Annotated[TrustedIssuers, NoDecode] = Field(
        default_factory=lambda: TrustedIssuers({})
    )
    """JSON `{"<iss>": {"jwks_url": ..., "jwks_file": ..., "testing": true}}`: the EHRs
    whose JWTs are accepted (docs/security.md)."""

    jwt_leeway_s: float = Field(default=30.0, ge=0, le=300)
    """Clock skew allowed when checking a JWT's `exp` and `iat`."""

    fhir_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """URL prefixes of FHIR servers the service may call; anything else gets 412."""

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Browser origins allowed to call the service (e.g. https://sandbox.cds-hooks.org)."""

    database_url: str = "sqlite:///./footdrop-cds.db"
    """SQLAlchemy URL of the service's database: a SQLite file (WAL) by default, PostgreSQL
    as `postgresql+psycopg://user@host/db` for several workers or replicas."""

    database_timeout_s: int = Field(default=3, ge=2, le=60)
    """Connect and statement timeout of the database, in whole seconds (libpq's minimum is 2);
    start-up fails after it when the database never answers."""

    database_hook_budget_s: float = Field(default=1.0, gt=0, le=10)
    """How long a hook call waits for the database (shown-card memory, snoozes, JWT replay
    memory) before it answers without it; the cards never wait longer."""

    database_migrate: Literal["on-start", "check"] = "on-start"
    """`on-start`: start-up brings the schema to the latest revision; `check`: start-up
    only checks it is there (run `footdrop-cds migrate` during the deployment)."""

    card_log_drain_s: float = Field(default=10.0, ge=0, le=300)
    """At shutdown, how long the card log may take to write what is queued; cards still
    queued after it are counted and logged as lost (keep it under the orchestrator's grace)."""

    patient_hash_key: SecretStr | None = None
    """Key of the HMAC-SHA256 that replaces patient ids in the card log (never the id itself).
    Required with CDS_AUTH_MODE=jwt; keep it secret and stable (changing it forgets snoozes)."""

    snooze_days: int = Field(default=30, ge=1, le=365)
    """How long an overridden card's topic is not shown again for that patient (jwt mode)."""

    analytics_token: SecretStr | None = None
    """Bearer token of the CDS committee for GET /analytics/cards; unset, nobody may read it."""

    fhir_timeout_s: float = Field(default=5.0, gt=0, le=60)
    """Budget for all FHIR server calls of one request, paging included."""

    fhir_max_pages: int = Field(default=10, ge=1, le=100)
    """How many `next` links are followed per query before the rest is left out."""

    fhir_max_response_bytes: int = Field(default=50_000_000, ge=100_000)
    """Largest body read from the FHIR server per call; a larger answer is unavailable."""

    fhir_max_entries: int = Field(default=20_000, ge=1_000)
    """Most resources read for one request (prefetch and FHIR server together); beyond
    it the rest is left out and the cards say the record was read in part."""

    max_json_depth: int = Field(default=64, ge=16, le=500)
    """Deepest nesting accepted in a request body or a FHIR response."""

    max_records_in_flight: int = Field(default=2, ge=1, le=1_000)
    """Hook calls of one worker that hold a patient record at once (from the parse of the
    body to the cards); a call past it waits, its body received, for one to finish."""

    request_body_timeout_s: float = Field(default=30.0, gt=0, le=300)
    """Time allowed to receive a request body; a client that trickles it gets 408."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    max_request_bytes: int = Field(default=20_000_000, ge=10_000)
    """Largest hook request accepted (a full prefetch of a long record is a few MB); 413 above."""

    shown_card_ttl_s: int = Field(default=8 * 3600, ge=60)
    """How long a card shown at order-select is remembered for order-sign de-duplication."""

    workers: int = Field(default=2, ge=1, le=64)
    """Server processes `footdrop-cds serve` starts (the container's command); `make run` uses 1."""

    docs_ui: bool = True
    """Swagger UI at /docs, its files served by the service itself; false turns it off."""

    limit_concurrency: int = Field(default=100, ge=1, le=10_000)
    """Connections and requests a worker takes at once; beyond it uvicorn answers 503
    at once instead of queueing without bound (`footdrop-cds serve`)."""

    keep_alive_s: int = Field(default=5, ge=1, le=120)
    """Idle time after which a keep-alive connection is closed (`footdrop-cds serve`).
    uvicorn has no timeout for slow request headers: in production a reverse proxy in
    front provides one (README, Production)."""

    explain: bool = False
    """Honour the request extension org.footdrop-cds.explain: the rule trace in the
    response's `extension`. For integration testing; off in every deployment default."""

    clinical: ClinicalThresholds = Field(default_factory=ClinicalThresholds)
    """Thresholds the clinical specification calls settings, e.g. CDS_CLINICAL__ACUTE_WEEKS."""

    @property
    def fhir_limits(self) -> FhirLimits:
        return FhirLimits(
            allowlist=tuple(self.fhir_allowlist),
            timeout_s=self.fhir_timeout_s,
            max_pages=self.fhir_max_pages,
            max_entries=self.fhir_max_entries,
            max_depth=self.max_json_depth,
        )

    @field_validator("trusted_issuers", mode="before")
    @classmethod
    def _issuers_json(cls, value: object) -> object:
        return parse_trusted_issuers(value) if isinstance(value, str) else value

    @field_validator("fhir_allowlist", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("fhir_allowlist")
    @classmethod
    def _http_prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not prefix.startswith(("https://", "http://")):
                raise ValueError(
                    f"CDS_FHIR_ALLOWLIST entries must start with https:// or http://: {prefix!r}"
                )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_origin(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError("CDS_CORS_ORIGINS must list origins; a wildcard is not allowed")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("patient_hash_key", "analytics_token")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters")
        return value

    @model_validator(mode="after")
    def _jwt_needs_issuers(self) -> Settings:
        if self.auth_mode == "jwt" and not self.trusted_issuers.root:
            raise ValueError(
                "CDS_AUTH_MODE=jwt needs CDS_TRUSTED_ISSUERS: no EHR could call the service"
            )
        return self

    @model_validator(mode="after")
    def _jwt_needs_patient_hash_key(self) -> Settings:
        key = self.patient_hash_key
        if self.auth_mode == "jwt" and (key is None or key.get_secret_value() == DEV_HASH_KEY):
            raise ValueError(
                "CDS_AUTH_MODE=jwt needs CDS_PATIENT_HASH_KEY (a secret of at least "
                f"{MIN_SECRET_CHARS} characters): the card log keys patients by it"
            )
        return self

    @property
    def hash_key(self) -> bytes:
        """The patient-hash key; the fixed development key when unset (auth off only)."""
        key = self.patient_hash_key
        return (key.get_secret_value() if key else DEV_HASH_KEY).encode()

    @property
    def snoozing(self) -> bool:
        """Snoozes are state across calls: only for verified callers (issue 10 item 3)."""
        return self.auth_mode == "jwt"


class ConfigurationError(Exception):
    """The environment does not make valid settings; the message is one line for an operator."""


def env_name(location: tuple[int | str, ...]) -> str:
    """The variable of a settings field: ("clinical", "acute_weeks") → CDS_CLINICAL__ACUTE_WEEKS."""
    return "CDS_" + "__".join(str(part).upper() for part in location)


def load_settings() -> Settings:
    """Settings from the environment, or one line naming each variable and what is wrong.

    Values are never echoed: a database URL or a token may be among them.
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for detail in error.errors(include_input=False, include_url=False):
            message = str(detail["msg"]).removeprefix("Value error, ")
            location = tuple(detail["loc"])
            name = env_name(location) if location else ""
            problems.append(
                message if not name or message.startswith(name) else f"{name}: {message}"
            )
        raise ConfigurationError("; ".join(problems)) from None
    except SettingsError as error:
        # pydantic-settings names the field when a structured value is not JSON.
        field = str(error).split('"')[1] if '"' in str(error) else ""
        name = env_name((field,)) if field else "a CDS_ variable"
        raise ConfigurationError(f"{name}: not valid JSON") from None
