"""Configuration from `ET_*` environment variables (pydantic-settings).

Every setting is documented in README.md's configuration reference; keep the two in step.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    EMBEDDED = "embedded"  # SQLite + in-process bus + local blobs, all services in one process
    PRODUCTION = "production"  # MongoDB + RabbitMQ + S3, one process per service


class LogFormat(StrEnum):
    AUTO = "auto"  # readable on a terminal, JSON otherwise
    JSON = "json"
    CONSOLE = "console"


class Settings(BaseSettings):
    """Every field is documented by its `description`; README's reference is generated from them."""

    model_config = SettingsConfigDict(env_prefix="ET_", extra="ignore")

    mode: Mode = Field(default=Mode.PRODUCTION, description=(
        "`embedded` (SQLite, in-process bus, local blobs; set by `elasticthought up`) or `production` "
        "(MongoDB, RabbitMQ, S3; `elasticthought service`)"))
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".elasticthought", description=(
        "where the embedded event store and blobs, worker job folders and caches live"))
    host: str = Field(default="127.0.0.1", description="address the API listens on")
    port: int = Field(default=8080, ge=0, le=65535, description="port the API listens on")
    public_url: str | None = Field(default=None, description=(
        "base URL clients reach the API at (links, presigned local-blob URLs); default http://host:port"))

    log_level: str = Field(default="info", description="debug, info, warning or error")
    log_format: LogFormat = Field(default=LogFormat.AUTO, description=(
        "`auto` (readable on a terminal, JSON lines otherwise), `json` or `console`"))

    amqp_url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/", description="RabbitMQ URL (production)")
    amqp_exchange: str = Field(default="elasticthought.events", description=(
        "topic exchange of the events; `<name>.direct` routes events addressed to one worker"))
    amqp_prefetch: int = Field(default=32, ge=1, description="unacked messages a service consumer holds at once")
    queue_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$", description=(
        "prepended to every service queue name (`scheduler`, `storage`, `worker.<id>`): lets two "
        "deployments or test runs share one broker vhost without consuming each other's queues"))
    mongo_url: str = Field(default="mongodb://127.0.0.1:27017/", description="MongoDB URL of the event store")
    mongo_db: str = Field(default="elasticthought", description="MongoDB database of the event store")
    mongo_timeout_s: float = Field(default=5.0, gt=0, description=(
        "how long an event store call waits for a reachable MongoDB before failing as unavailable "
        "(the API then answers 503)"))
    s3_endpoint: str | None = Field(default=None, description=(
        "S3 endpoint URL (MinIO, SeaweedFS, ...); unset: AWS S3 itself"))
    s3_region: str = Field(default="us-east-1", description="S3 region")
    s3_bucket: str = Field(default="elasticthought", description="bucket of every blob (created when missing)")
    s3_access_key: str | None = Field(default=None, description="S3 access key; unset: the default AWS chain")
    s3_secret_key: SecretStr | None = Field(default=None, description="S3 secret key")
    s3_multipart_threshold: int = Field(default=16 * 1024 * 1024, ge=5 * 1024 * 1024, description=(
        "objects at least this large are uploaded in parts of this size"))

    max_event_bytes: int = Field(default=256 * 1024, ge=1024, description="largest event payload accepted")
    outbox_sweep_interval_s: float = Field(default=2.0, gt=0, description=(
        "how often each process republishes events a crash left unpublished"))
    outbox_sweep_min_age_s: float = Field(default=5.0, ge=0, description=(
        "an unpublished event is swept only once this old (the in-line publish gets there first)"))
    shutdown_grace_s: float = Field(default=8.0, gt=0, description=(
        "on SIGTERM, how long in-flight work may drain before it is cancelled"))
    blob_url_secret: SecretStr | None = Field(default=None, description=(
        "signs local-blob download URLs; generated into the data dir when unset"))

    worker_id: str | None = Field(default=None, description="this worker's id; default `<hostname>-<pid>`")
    worker_slots: int = Field(default=1, ge=0, description=(
        "training jobs this worker runs at once (changeable at run time: PATCH /v1/workers/{id})"))
    worker_gpus: str = Field(default="", description='comma-separated CUDA device ids this worker may use, e.g. "0,1"')
    worker_trainer_threads: int = Field(default=0, ge=0, description=(
        "OpenMP threads of each CPU trainer (OMP_NUM_THREADS, unless the worker's environment sets it); "
        "0: the machine's cores divided by the worker's slots"))
    worker_engines: str = Field(default="torch,caffe", description=(
        "engines to offer; only those actually installed are advertised"))
    worker_heartbeat_interval_s: float = Field(default=5.0, gt=0, description=(
        "how often a worker tells the scheduler it is alive"))
    worker_lost_after_s: float = Field(default=30.0, gt=0, description=(
        "a worker silent this long is declared lost and its jobs requeued (keep it several heartbeats long)"))
    worker_stop_grace_s: float = Field(default=5.0, gt=0, description=(
        "a stopped trainer (cancel, worker shutdown) gets SIGTERM, this long to exit, then SIGKILL"))
    worker_log_flush_s: float = Field(default=0.2, gt=0, description=(
        "trainer log lines are appended in batches at least this often"))
    worker_log_flush_lines: int = Field(default=500, ge=1, description=(
        "... or as soon as this many lines wait"))

    scheduler_id: str | None = Field(default=None, description="lease owner name; default `<hostname>-<pid>`")
    scheduler_lease_s: float = Field(default=15.0, gt=0, description=(
        "the active scheduler's lease, renewed every third of it; a killed scheduler is replaced "
        "within about one lease"))
    scheduler_unrunnable_fail_after_s: float | None = Field(default=None, gt=0, description=(
        "a queued job no online worker could run (engine, GPUs) fails after this long; unset: it waits "
        "until such a worker joins"))

    admin_token: SecretStr | None = Field(default=None, description=(
        "the deployment admin's bearer token (`up` generates and prints one when unset)"))

    api_token_cache_s: float = Field(default=5.0, ge=0, description=(
        "verified tokens are trusted this long (a revoke reaches other API instances within it)"))
    api_read_model_tenants: int = Field(default=256, ge=1, description=(
        "tenants whose read models an API process keeps in memory (least recently read evicted)"))
    api_stream_poll_s: float = Field(default=0.1, gt=0, description=(
        "how often live streams (job log `?follow=true`, /v1/events) look for new events"))
    api_sse_heartbeat_s: float = Field(default=15.0, gt=0, description=(
        "idle SSE streams get a comment this often so proxies keep them open"))
    classify_sync_max_images: int = Field(default=16, ge=0, description=(
        "a classify request with more images than this runs as a classify job (202, like `?async=true`) "
        "instead of answering at once"))
    classify_job_max_images: int = Field(default=1000, ge=1, description=(
        "most images one classify job takes (413 beyond it)"))
    classifier_cache_size: int = Field(default=8, ge=0, description=(
        "classifiers a process keeps loaded in memory for classify calls (least recently used dropped; 0: none)"))
    classify_max_image_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description=(
        "largest image a classify request may send or name by URL (413 beyond it)"))
    classify_url_timeout_s: float = Field(default=30.0, gt=0, description=(
        "fetching one image URL of a classify request, redirects included"))

    storage_concurrency: int = Field(default=2, ge=1, description=(
        "ingests and dataset builds one storage process runs at once"))
    storage_transfer_concurrency: int = Field(default=16, ge=1, description=(
        "blobs one ingest or build moves at a time"))
    storage_work_dir: Path | None = Field(default=None, description=(
        "scratch space for archives and builds; default `<data_dir>/storage-work`"))
    storage_cache_bytes: int = Field(default=10 * 1024**3, ge=0, description=(
        "extracted datafiles kept in the work dir for later builds"))
    snapshot_keep_last: int = Field(default=5, ge=0, description=(
        "snapshots kept per training job, the newest; older ones are deleted (the one a requeue resumes "
        "from and the final one always stay); 0 keeps all"))
    max_datafile_bytes: int = Field(default=4 * 1024**3, ge=1, description=(
        "largest datafile archive, uploaded or fetched from a URL"))
    allow_private_urls: bool = Field(default=False, description=(
        "let datafile URLs reach private, loopback, link-local and reserved addresses (closed networks, tests)"))
    allow_s3_urls: bool = Field(default=False, description=(
        "accept `s3://` datafile URLs, read with the deployment's own S3 credentials (never its blob bucket)"))
    url_allowed_networks: str = Field(default="", description=(
        "comma-separated CIDRs allowed although private, e.g. an internal mirror"))
    url_fetch_timeout_s: float = Field(default=3600.0, gt=0, description="a whole URL fetch, redirects included")
    url_connect_timeout_s: float = Field(default=30.0, gt=0, description="connecting to a datafile URL")
    url_min_rate_bytes_s: int = Field(default=1024, ge=0, description=(
        "a body arriving slower than this on average over `url_rate_window_s` is abandoned"))
    url_rate_window_s: float = Field(default=30.0, gt=0, description="window of the minimum-rate check")

    webhook_allow_private: bool = Field(default=False, description=(
        "let webhook URLs reach private, loopback, link-local and reserved addresses (closed networks, tests); "
        "apart from `allow_private_urls`, which is for datafile downloads"))
    webhook_retry_base_s: float = Field(default=10.0, gt=0, description=(
        "first retry delay of a failed webhook delivery; later ones are 3, 6, 12, 30, 60, 120 and 180 times it "
        "(+-20 % jitter), and a delivery fails once 360 times it (an hour by default) has passed"))
    webhook_timeout_s: float = Field(default=10.0, gt=0, description=(
        "one webhook delivery attempt, connecting included; the receiver's body is never read"))
    webhook_concurrency: int = Field(default=16, ge=1, description=(
        "webhook deliveries in flight at once; one webhook gets at most a quarter of them"))
    webhook_lease_s: float = Field(default=15.0, gt=0, description=(
        "lease of the one API instance that sends webhook deliveries, renewed every third of it"))
