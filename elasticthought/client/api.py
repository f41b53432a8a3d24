"""`Api`: every operation of the ElasticThought API, declared once for `Client` and `AsyncClient`.

Each attribute is a plan (or stream) builder from `elasticthought.client.plans` turned into a
method by `Operation`; `covers` names the OpenAPI operations it performs. A route added to the
server without a method here fails tests/unit/client/test_spec_coverage.py.
"""

from __future__ import annotations

from elasticthought.client.operation import Operation, StreamOperation
from elasticthought.client.plans import (
    classifiers,
    classify_jobs,
    cluster,
    data,
    meta,
    outputs,
    solvers,
    tenancy,
    training,
    webhooks,
)


class Api:
    """The operations; a subclass that is a `SyncRunner` or an `AsyncRunner` runs them."""

    # the server
    healthz = Operation(meta.healthz, covers="healthz")
    readyz = Operation(meta.readyz, covers="readyz")
    openapi = Operation(meta.openapi, covers="openapi_document")
    prometheus_metrics = Operation(meta.prometheus_metrics, covers="prometheus_metrics")
    events = StreamOperation(meta.events, covers="stream_events")

    # tenancy
    create_tenant = Operation(tenancy.create_tenant, covers="create_tenant")
    create_user = Operation(tenancy.create_user, covers="create_user")
    create_token = Operation(tenancy.create_token, covers="create_token")
    list_tokens = Operation(tenancy.list_tokens, covers="list_tokens")
    revoke_token = Operation(tenancy.revoke_token, covers="revoke_token")
    me = Operation(tenancy.me, covers="me")

    # datafiles and datasets
    upload_datafile = Operation(data.upload_datafile, covers="create_datafile")
    create_datafile_from_url = Operation(data.create_datafile_from_url, covers="create_datafile")
    list_datafiles = Operation(data.list_datafiles, covers="list_datafiles")
    get_datafile = Operation(data.get_datafile, covers="get_datafile")
    delete_datafile = Operation(data.delete_datafile, covers="delete_datafile")
    wait_for_datafile = Operation(data.wait_for_datafile)
    create_dataset = Operation(data.create_dataset, covers="create_dataset")
    list_datasets = Operation(data.list_datasets, covers="list_datasets")
    get_dataset = Operation(data.get_dataset, covers="get_dataset")
    delete_dataset = Operation(data.delete_dataset, covers="delete_dataset")
    wait_for_dataset = Operation(data.wait_for_dataset)

    # solvers
    create_solver = Operation(solvers.create_solver, covers="create_solver")
    list_solvers = Operation(solvers.list_solvers, covers="list_solvers")
    get_solver = Operation(solvers.get_solver, covers="get_solver")

    # training jobs and what they produce
    submit_training_job = Operation(training.submit_training_job, covers="submit_training_job")
    list_training_jobs = Operation(training.list_training_jobs, covers="list_training_jobs")
    get_training_job = Operation(training.get_training_job, covers="get_training_job")
    cancel_training_job = Operation(training.cancel_training_job, covers="cancel_training_job")
    wait_for_training_job = Operation(training.wait_for_training_job)
    get_queue = Operation(training.get_queue, covers="get_queue")
    get_training_log = Operation(outputs.get_training_log, covers="get_training_log")
    follow_training_log = StreamOperation(outputs.follow_training_log, covers="get_training_log")
    get_training_metrics = Operation(outputs.get_training_metrics, covers="get_training_metrics")
    list_snapshots = Operation(outputs.list_snapshots, covers="list_snapshots")
    download_snapshot = Operation(outputs.download_snapshot, covers="download_snapshot")

    # classifiers
    create_classifier = Operation(classifiers.create_classifier, covers="create_classifier_route")
    list_classifiers = Operation(classifiers.list_classifiers, covers="list_classifiers")
    get_classifier = Operation(classifiers.get_classifier, covers="get_classifier")
    delete_classifier = Operation(classifiers.delete_classifier, covers="delete_classifier")
    download_classifier = Operation(classifiers.download_classifier, covers="download_classifier")
    classify = Operation(classifiers.classify, covers="classify_images")
    submit_classify_job = Operation(classifiers.submit_classify_job, covers="classify_images")

    # classify jobs
    list_classify_jobs = Operation(classify_jobs.list_classify_jobs, covers="list_classify_jobs")
    get_classify_job = Operation(classify_jobs.get_classify_job, covers="get_classify_job")
    get_classify_results = Operation(classify_jobs.get_classify_results, covers="get_classify_results")
    cancel_classify_job = Operation(classify_jobs.cancel_classify_job, covers="cancel_classify_job")
    wait_for_classify_job = Operation(classify_jobs.wait_for_classify_job)

    # webhooks
    create_webhook = Operation(webhooks.create_webhook, covers="create_webhook")
    list_webhooks = Operation(webhooks.list_webhooks, covers="list_webhooks")
    get_webhook = Operation(webhooks.get_webhook, covers="get_webhook")
    delete_webhook = Operation(webhooks.delete_webhook, covers="delete_webhook")
    list_deliveries = Operation(webhooks.list_deliveries, covers="list_deliveries")
    redeliver = Operation(webhooks.redeliver, covers="redeliver")

    # workers (administrator)
    list_workers = Operation(cluster.list_workers, covers="list_workers")
    set_worker_slots = Operation(cluster.set_worker_slots, covers="change_worker_slots")
