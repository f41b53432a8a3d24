"""The manifest of an accepted datafile: what was extracted, by class, and which archive it was."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.storage.formats import ArchiveFormat


class DatafileFile(BaseModel):
    """One extracted image: its path under the datafile directory (class folder first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    class_name: str
    size: int = Field(ge=0)


class DatafileClass(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    count: int = Field(ge=1)


class DatafileManifest(BaseModel):
    """Everything later steps need to know about an extracted datafile, without listing its folder.

    `files` are sorted by path; `classes` by name, which is also label order in datasets.
    `packs` name the blobs under the datafile's files prefix that hold `files` (see
    `shared.blobs.packs`); empty in the manifests of datafiles stored one blob per file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: ArchiveFormat
    sha256: str
    archive_bytes: int = Field(ge=0)
    total_bytes: int = Field(ge=0)
    classes: tuple[DatafileClass, ...]
    files: tuple[DatafileFile, ...]
    packs: tuple[str, ...] = ()

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(entry.name for entry in self.classes)
