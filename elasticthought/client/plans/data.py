"""Datafiles (uploaded or fetched archives of class folders) and datasets built from them."""

from __future__ import annotations

from elasticthought.client.calls import (
    Call,
    Plan,
    Progress,
    Upload,
    UploadSource,
    fetch,
    fetch_items,
    nothing,
    query,
    segment,
)
from elasticthought.client.models.data import (
    DATAFILE_ENDS,
    DATASET_ENDS,
    Datafile,
    DatafileCreated,
    Dataset,
    DatasetCreated,
    ImageSpec,
)
from elasticthought.client.plans.waiting import DEFAULT_POLL_S, wait_until
from elasticthought.client.uploads import archive_type, source_name, source_size


def upload_datafile(source: UploadSource, *, name: str | None = None, content_type: str | None = None,
                    size: int | None = None, progress: Progress | None = None) -> Plan[DatafileCreated]:
    """Upload an archive (tar, tar.gz or zip of one folder per class), streamed in chunks.

    `source` is a path, an open binary file, or an iterable of byte chunks (an async iterable with
    `AsyncClient`). `progress(sent, total)` is called as chunks go out. The name and the media type
    default to the file's."""
    name = name or source_name(source)
    size = size if size is not None else source_size(source)
    headers = {"Content-Type": content_type or archive_type(name or "")}
    if size is not None:
        headers["Content-Length"] = str(size)
    return fetch(Call("POST", "/v1/datafiles", params=query(name=name), headers=headers,
                      upload=Upload(source, size, progress)), DatafileCreated)


def create_datafile_from_url(url: str) -> Plan[DatafileCreated]:
    """Have the storage service fetch the archive from an http, https or s3 URL."""
    return fetch(Call("POST", "/v1/datafiles", json={"url": url}), DatafileCreated)


def list_datafiles() -> Plan[list[Datafile]]:
    """The tenant's datafiles, oldest first."""
    return fetch_items(Call("GET", "/v1/datafiles"), Datafile)


def get_datafile(datafile_id: str) -> Plan[Datafile]:
    """One datafile: state, size, sha256, classes, error."""
    return fetch(Call("GET", f"/v1/datafiles/{segment(datafile_id)}"), Datafile)


def delete_datafile(datafile_id: str) -> Plan[None]:
    """Delete a datafile and its blobs (datasets built from it keep their copies)."""
    return nothing(Call("DELETE", f"/v1/datafiles/{segment(datafile_id)}", expect="empty"))


def wait_for_datafile(datafile_id: str, *, timeout_s: float | None = None,
                      poll_s: float = DEFAULT_POLL_S) -> Plan[Datafile]:
    """Poll until the datafile is ready or rejected (check `state`); `WaitTimeout` after `timeout_s`."""
    return wait_until(lambda: get_datafile(datafile_id), DATAFILE_ENDS, resource="datafile",
                      resource_id=datafile_id, timeout_s=timeout_s, poll_s=poll_s)


def create_dataset(datafile_id: str, image: ImageSpec, *, test_fraction: float = 0.2,
                   seed: int = 0) -> Plan[DatasetCreated]:
    """Build a dataset (a stratified train/test split, resized) from a ready datafile."""
    body = {"datafile_id": datafile_id, "test_fraction": test_fraction, "seed": seed,
            "image": image.model_dump(mode="json")}
    return fetch(Call("POST", "/v1/datasets", json=body), DatasetCreated)


def list_datasets() -> Plan[list[Dataset]]:
    """The tenant's datasets, oldest first."""
    return fetch_items(Call("GET", "/v1/datasets"), Dataset)


def get_dataset(dataset_id: str) -> Plan[Dataset]:
    """One dataset: state, labels, counts per split, error."""
    return fetch(Call("GET", f"/v1/datasets/{segment(dataset_id)}"), Dataset)


def delete_dataset(dataset_id: str) -> Plan[None]:
    """Delete a dataset and its blobs."""
    return nothing(Call("DELETE", f"/v1/datasets/{segment(dataset_id)}", expect="empty"))


def wait_for_dataset(dataset_id: str, *, timeout_s: float | None = None,
                     poll_s: float = DEFAULT_POLL_S) -> Plan[Dataset]:
    """Poll until the dataset is ready or failed (check `state`); `WaitTimeout` after `timeout_s`."""
    return wait_until(lambda: get_dataset(dataset_id), DATASET_ENDS, resource="dataset", resource_id=dataset_id,
                      timeout_s=timeout_s, poll_s=poll_s)
