"""Where a tenant's datafiles and datasets lie in the blob store (inside `tenants/<tenant>/`).

- `datafiles/<id>/archive`: the archive as uploaded, or as fetched from the submitted URL;
- `datafiles/<id>/files/pack-NNNNN.tar`: the extracted, validated images, packed (members named
  `<class>/<name>`; the manifest lists the packs). Datafiles ingested before packs hold
  `datafiles/<id>/files/<class>/<name>` instead, one blob per image, and a manifest without packs;
- `datafiles/<id>/manifest.json`: the `DatafileManifest` (classes, files, sizes) that builds read;
- `datasets/<id>/...`: the build outputs in `build_dataset`'s layout (see `dataset_build`).

Deleting a datafile or dataset is deleting its prefix, so nothing of it may live elsewhere.
"""

from __future__ import annotations


def datafile_prefix(datafile_id: str) -> str:
    return f"datafiles/{datafile_id}/"


def archive_path(datafile_id: str) -> str:
    return f"datafiles/{datafile_id}/archive"


def files_prefix(datafile_id: str) -> str:
    return f"datafiles/{datafile_id}/files/"


def manifest_path(datafile_id: str) -> str:
    return f"datafiles/{datafile_id}/manifest.json"


def dataset_prefix(dataset_id: str) -> str:
    return f"datasets/{dataset_id}/"
