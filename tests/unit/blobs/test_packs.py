"""Packs: many small files in a few tar blobs, read back without trusting what they hold."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from shared.blobs.packs import PackError, PackWriter, extract_pack, group_files, is_pack, pack_name, write_pack


def files_of(root: Path, sizes: dict[str, int]) -> list[str]:
    for path, size in sizes.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(bytes([len(path) % 251]) * size)
    return sorted(sizes)


def hostile_pack(path: Path, *members: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w") as archive:
        for info in members:
            archive.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 1, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size if kind == tarfile.REGTYPE else 0, target
    return info


def test_a_pack_gives_back_every_file_byte_for_byte(tmp_path: Path) -> None:
    paths = files_of(tmp_path / "in", {"cat/1.png": 300, "cat/2.png": 0, "dög/ünï code.png": 5000})
    write_pack(tmp_path / "in", paths, tmp_path / pack_name(0))

    assert sorted(extract_pack(tmp_path / pack_name(0), tmp_path / "out", expected=paths)) == paths
    for path in paths:
        assert (tmp_path / "out" / path).read_bytes() == (tmp_path / "in" / path).read_bytes()


def test_groups_cut_in_order_at_the_size_with_a_large_file_in_a_group_of_its_own(tmp_path: Path) -> None:
    paths = files_of(tmp_path, {"a/1": 40, "a/2": 40, "a/3": 40, "b/big": 500, "b/4": 10})
    assert group_files(tmp_path, paths, max_bytes=100) == [["a/1", "a/2"], ["a/3", "b/4"], ["b/big"]]
    assert group_files(tmp_path, [], max_bytes=100) == []


def test_pack_names_are_recognised_and_nothing_else_is() -> None:
    assert pack_name(3) == "pack-00003.tar" and is_pack("images/train/pack-00003.tar")
    others = ("images/train/3/1.png", "pack-1.tar", "x/pack-00001.tar.gz", "mypack-00001.tar")
    assert not any(is_pack(path) for path in others)


@pytest.mark.parametrize(("entry", "reason"), [
    pytest.param(member("cat/link.png", tarfile.SYMTYPE, target="/etc/passwd"), "not a regular file", id="symlink"),
    pytest.param(member("cat/hard.png", tarfile.LNKTYPE, target="cat/1.png"), "not a regular file", id="hardlink"),
    pytest.param(member("cat", tarfile.DIRTYPE), "not a regular file", id="folder"),
    pytest.param(member("../escape.png"), "unsafe pack member name", id="traversal"),
    pytest.param(member("/etc/evil.png"), "unsafe pack member name", id="absolute"),
    pytest.param(member("cat//1.png"), "unsafe pack member name", id="empty-segment"),
    pytest.param(member("cat\\1.png"), "unsafe pack member name", id="backslash"),
    pytest.param(member("cat/unexpected.png"), "not one of the expected files", id="unexpected"),
])
def test_a_member_that_is_not_a_plain_expected_file_is_refused_and_nothing_escapes(
    tmp_path: Path, entry: tarfile.TarInfo, reason: str,
) -> None:
    pack = hostile_pack(tmp_path / "p.tar", member("cat/1.png"), entry)
    with pytest.raises(PackError, match=reason) as caught:
        extract_pack(pack, tmp_path / "a" / "out", expected={"cat/1.png", "cat/link.png", "cat/hard.png", "cat",
                                                               "../escape.png", "/etc/evil.png", "cat//1.png",
                                                               "cat\\1.png"})
    assert caught.value.member == entry.name
    assert sorted(p.name for p in (tmp_path / "a").rglob("*")) == ["1.png", "cat", "out"]


def test_a_member_written_twice_is_refused(tmp_path: Path) -> None:
    pack = hostile_pack(tmp_path / "p.tar", member("cat/1.png"), member("cat/1.png", size=2))
    with pytest.raises(PackError, match="collides"):
        extract_pack(pack, tmp_path / "out")
    assert (tmp_path / "out" / "cat" / "1.png").read_bytes() == b"x"


def test_a_file_where_a_folder_must_go_is_refused(tmp_path: Path) -> None:
    pack = hostile_pack(tmp_path / "p.tar", member("cat"), member("cat/1.png"))
    with pytest.raises(PackError, match="collides"):
        extract_pack(pack, tmp_path / "out")


@pytest.mark.parametrize("body", [b"", b"not a tar at all" * 64], ids=["truncated", "garbage"])
def test_a_damaged_pack_is_refused(tmp_path: Path, body: bytes) -> None:
    if body:
        (tmp_path / "p.tar").write_bytes(body)
    else:
        paths = files_of(tmp_path / "in", {"cat/1.png": 5000})
        write_pack(tmp_path / "in", paths, tmp_path / "whole.tar")
        (tmp_path / "p.tar").write_bytes((tmp_path / "whole.tar").read_bytes()[:1500])  # cut inside the data
    with pytest.raises(PackError, match="not a readable pack"):
        extract_pack(tmp_path / "p.tar", tmp_path / "out")


def test_a_pack_writer_rolls_to_a_new_pack_past_the_size_and_refuses_unsafe_names(tmp_path: Path) -> None:
    writer = PackWriter(tmp_path / "packs", max_bytes=250)
    for n in range(5):
        writer.add(f"{n % 2}/{n}.png", bytes([n]) * 100)
    with pytest.raises(PackError, match="unsafe"):
        writer.add("../up.png", b"x")
    writer.close()

    assert writer.names == [pack_name(0), pack_name(1), pack_name(2)]  # 2 + 2 + 1 files of 100 bytes
    found = [name for pack in writer.names for name in extract_pack(tmp_path / "packs" / pack, tmp_path / "out")]
    assert found == [f"{n % 2}/{n}.png" for n in range(5)]
    assert (tmp_path / "out" / "0" / "4.png").read_bytes() == bytes([4]) * 100
