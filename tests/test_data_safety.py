"""Nothing lost, nothing left running: atomic outputs, --overwrite, stale temporaries, signals, orphans."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

import si_recsim.atomic as atomic
from si_recsim import generate_ground_truth, save_ground_truth
from si_recsim.atomic import atomic_h5, atomic_output, check_output, remove_stale_temporaries, written_by_si_recsim
from si_recsim.cli import main
from si_recsim.library.library_file import write_template_library
from si_recsim.library.loading import load_template_library

FAST = ["-d", "0.5", "--no-progress", "--set", "spiketrains.n_exc=2", "--set", "spiketrains.n_inh=1"]


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def _user_folder(folder: Path) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "thesis.tex").write_text("chapter 1")
    (folder / "data" / "raw.bin").write_bytes(b"\x00" * 100)
    return folder


def test_overwrite_refuses_a_folder_si_recsim_did_not_write(tmp_path, capsys):
    user = _user_folder(tmp_path / "my_analysis")
    assert main(["gen-recordings", "-o", str(user), "--overwrite", *FAST]) == 2
    error = capsys.readouterr().err
    assert "not written by si_recsim" in error and len(error.strip().splitlines()) == 1
    assert (user / "thesis.tex").read_text() == "chapter 1" and (user / "data" / "raw.bin").stat().st_size == 100
    assert main(["gen-recordings", "-o", str(user / "thesis.tex"), "--overwrite", *FAST]) == 2  # a file, too
    assert "not written by si_recsim" in capsys.readouterr().err
    assert (user / "thesis.tex").read_text() == "chapter 1"
    assert _names(tmp_path) == ["my_analysis"] and _names(user) == ["data", "thesis.tex"]


def test_overwrite_refuses_files_si_recsim_did_not_write(tmp_path, capsys):
    user_yaml = tmp_path / "mine.yaml"
    user_yaml.write_text("recordings:\n  noise_level: 3\n")
    assert main(["default-params", "recordings", "-o", str(user_yaml), "--overwrite"]) == 2
    assert "not written by si_recsim" in capsys.readouterr().err
    assert user_yaml.read_text() == "recordings:\n  noise_level: 3\n"
    user_h5 = tmp_path / "mine.h5"
    with h5py.File(user_h5, "w") as file:  # an HDF5 file written by someone else
        file["x"] = np.arange(3)
    source = write_template_library(load_template_library("default"), tmp_path / "library.h5")
    assert main(["convert", str(source), str(user_h5), "--to", "library", "--overwrite"]) == 2
    assert "not written by si_recsim" in capsys.readouterr().err
    with h5py.File(user_h5, "r") as file:
        assert list(file) == ["x"]
    assert main(["convert", str(source), str(tmp_path / "copy.h5"), "--to", "mearec-templates"]) == 0
    assert main(["convert", str(source), str(tmp_path / "copy.h5"), "--to", "library", "--overwrite"]) == 0


def test_overwrite_replaces_an_output_si_recsim_wrote(tmp_path):
    output = tmp_path / "gt"
    assert main(["gen-recordings", "-o", str(output), "--seed", "1", *FAST]) == 0
    assert written_by_si_recsim(output)
    assert main(["gen-recordings", "-o", str(output), "--seed", "2", *FAST]) == 2  # no --overwrite
    assert main(["gen-recordings", "-o", str(output), "--seed", "2", "--overwrite", *FAST]) == 0
    assert yaml.safe_load((output / "params.yaml").read_text())["seed"] == 2
    assert _names(tmp_path) == ["gt"]  # no temporary, no set-aside copy left


def test_outputs_carry_the_marker_and_only_they_count_as_ours(tmp_path):
    params = tmp_path / "params.yaml"
    assert main(["default-params", "recordings", "-o", str(params)]) == 0
    library = write_template_library(load_template_library("default"), tmp_path / "library.h5")
    assert written_by_si_recsim(params) and written_by_si_recsim(library)
    with h5py.File(library, "r") as file:
        assert file.attrs[atomic.MARKER_ATTRIBUTE].startswith("si_recsim")
    (tmp_path / "notes.yaml").write_text("# my notes about si_recsim\n")
    (tmp_path / "empty").mkdir()
    assert not written_by_si_recsim(tmp_path / "notes.yaml") and not written_by_si_recsim(tmp_path / "empty")


def test_a_destination_that_appears_during_the_run_is_kept(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(FileExistsError, match="appeared while this run was writing"):
        with atomic_h5(target) as file:
            file["ours"] = np.zeros(3)
            target.write_text("theirs")
    assert target.read_text() == "theirs"
    folder = tmp_path / "gt"
    with pytest.raises(FileExistsError, match="appeared"):
        with atomic_output(folder, folder=True) as temporary:
            (temporary / "ours").write_text("1")
            folder.mkdir()  # even an empty folder is not replaced
    assert folder.is_dir() and _names(folder) == []
    assert _names(tmp_path) == ["gt", "out.h5"]


def test_two_runs_into_one_folder_never_lose_a_result(tmp_path, monkeypatch):
    recording, sorting = generate_ground_truth(seed=1, **{"spiketrains.duration": 0.5})
    target = tmp_path / "gt"
    original_save = type(sorting).save

    def save_while_another_run_finishes(self, **kwargs):  # the other run publishes first
        other_recording, other_sorting = generate_ground_truth(seed=2, **{"spiketrains.duration": 0.5})
        monkeypatch.setattr(type(sorting), "save", original_save)
        save_ground_truth(other_recording, other_sorting, target, progress_bar=False)
        return original_save(self, **kwargs)

    monkeypatch.setattr(type(sorting), "save", save_while_another_run_finishes)
    with pytest.raises(FileExistsError, match="appeared"):
        save_ground_truth(recording, sorting, target, progress_bar=False)
    assert yaml.safe_load((target / "params.yaml").read_text())["seeds"] == \
        generate_ground_truth(seed=2, **{"spiketrains.duration": 0.5})[0].get_annotation("si_recsim_params")["seeds"]
    assert _names(tmp_path) == ["gt"]


def test_two_writers_into_one_file_one_wins_whole(tmp_path):
    target = tmp_path / "weights.h5"
    with pytest.raises(FileExistsError):
        with atomic_h5(target) as first:
            first["data"] = np.zeros(10)
            with atomic_h5(target) as second:
                second["data"] = np.ones(10)
    with h5py.File(target, "r") as file:
        assert np.array_equal(file["data"][()], np.ones(10))
    with atomic_h5(target, overwrite=True) as first:  # with overwrite both succeed, the last one stays
        first["data"] = np.full(10, 2.0)
        with atomic_h5(target, overwrite=True) as second:
            second["data"] = np.full(10, 3.0)
    with h5py.File(target, "r") as file:
        assert np.array_equal(file["data"][()], np.full(10, 2.0))
    assert _names(tmp_path) == ["weights.h5"]


def test_a_failed_swap_keeps_the_old_output(tmp_path, monkeypatch):
    folder = tmp_path / "gt"
    with atomic_output(folder, folder=True) as temporary:
        (temporary / "result").write_text("old")
    calls = []
    real_rename = atomic._rename_noreplace

    def rename_failing_the_swap(source, target):
        calls.append((source, target))
        if len(calls) == 2:  # after the old output was set aside
            raise OSError("disk gone")
        return real_rename(source, target)

    monkeypatch.setattr(atomic, "_rename_noreplace", rename_failing_the_swap)
    with pytest.raises(OSError, match="disk gone"):
        with atomic_output(folder, folder=True, overwrite=True) as temporary:
            (temporary / "result").write_text("new")
    assert (folder / "result").read_text() == "old"
    assert _names(tmp_path) == ["gt"]


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_killed_runs_temporaries_are_removed_and_its_set_aside_output_put_back(tmp_path):
    host, dead = atomic._host_tag(), _dead_pid()
    stale_file = tmp_path / f".weights.h5.si_recsim-tmp-{host}-{dead}-0-0123abcd"
    stale_file.write_bytes(b"partial")
    set_aside = tmp_path / f".gt.si_recsim-old-{host}-{dead}-0-89abcdef"
    set_aside.mkdir()
    (set_aside / "result").write_text("the user's earlier result")
    alive = tmp_path / f".other.h5.si_recsim-tmp-{host}-{os.getpid()}-{atomic._start_time(os.getpid())}-00000000"
    alive.write_bytes(b"being written")
    other_host = tmp_path / f".x.h5.si_recsim-tmp-00000000-{dead}-0-00000000"
    other_host.write_bytes(b"another machine's")
    user_file = tmp_path / ".thesis.tex.tmp"
    user_file.write_text("not ours")
    assert main(["default-params", "templates", "-o", str(tmp_path / "p.yaml")]) == 0  # any write cleans up
    assert not stale_file.exists() and not set_aside.exists()
    assert (tmp_path / "gt" / "result").read_text() == "the user's earlier result"
    assert alive.exists() and other_host.exists() and user_file.exists()


def test_temporaries_are_unpredictable_exclusive_and_flushed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / ".out.h5.tmp").symlink_to(victim)  # the name earlier versions used
    flushed, published = [], []
    real_fsync, real_rename = atomic._fsync_file, atomic._rename_noreplace
    monkeypatch.setattr(atomic, "_fsync_file", lambda path: (flushed.append(Path(path)), real_fsync(path)))
    monkeypatch.setattr(atomic, "_rename_noreplace",
                        lambda source, target: (published.append(Path(source)), real_rename(source, target)))
    seen = []
    for _ in range(2):
        with atomic_output(tmp_path / "out.h5", overwrite=True) as temporary:
            seen.append(temporary)
            temporary.write_text(atomic.TEXT_MARKER + " test\n")
    assert seen[0] != seen[1] and all(path.name.startswith(".out.h5.si_recsim-tmp-") for path in seen)
    assert flushed[0] == seen[0] and published[0] == seen[0]  # fsync before the rename
    assert victim.read_text() == "keep me" and not (tmp_path / "out.h5").is_symlink()


def test_check_output_before_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        check_output(tmp_path / "file")
    assert check_output(tmp_path / "new") == tmp_path / "new"


def test_a_failed_conversion_leaves_no_folders(tmp_path, capsys):
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)  # an HDF5 signature and nothing else
    assert main(["convert", str(broken), str(tmp_path / "a" / "b" / "c.h5"), "--to", "mearec"]) == 2
    assert "cannot be opened as HDF5" in capsys.readouterr().err
    assert _names(tmp_path) == ["broken.h5"]


def test_remove_stale_temporaries_ignores_missing_folders(tmp_path):
    assert remove_stale_temporaries(tmp_path / "missing") == []


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start_and_wait_for_workers(command: list[str], cwd: Path, n_workers: int) -> tuple[subprocess.Popen, list[int]]:
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        children = [pid for pid in _children(process.pid) if "resource_tracker" not in
                    (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace")]
        if len(children) >= n_workers:
            time.sleep(0.2)  # workers may still be starting: their parent dying then must end them too
            return process, children
        if process.poll() is not None:
            raise AssertionError(f"finished before its workers were seen: {process.communicate()}")
        time.sleep(0.2)
    process.kill()
    raise AssertionError("no workers appeared")


def _gen_recordings(output: str) -> list[str]:
    return [sys.executable, "-m", "si_recsim.cli", "gen-recordings", "-j", "2", "-d", "3600", "--no-progress",
            "-o", output]


@pytest.fixture
def geometry_with_many_cells(tmp_path) -> tuple[Path, Path]:
    from si_recsim.physics.segments import CellSegments
    from si_recsim.probes import probe_from_name
    from si_recsim.sonata.electrodes import electrodes_from_probe
    from si_recsim.sonata.geometry_file import write_geometry

    rng = np.random.default_rng(0)
    cells = []
    for node in range(4000):
        starts = rng.uniform(-500, 500, size=(60, 3))
        cells.append(CellSegments(node_id=node, soma_center=starts[0], starts=starts,
                                  ends=starts + rng.normal(0, 10, size=(60, 3)), section_ids=np.arange(60),
                                  neurite_types=np.r_[0, np.full(59, 3)], diameters=np.full(60, 1.0)))
    geometry = write_geometry({"cells": cells}, tmp_path / "geometry.h5")
    electrodes = electrodes_from_probe(probe_from_name("Neuropixels-384"))
    table = tmp_path / "electrodes.csv"
    table.write_text("name,x,y,z,layer,region,type\n" + "".join(
        f"{e.name},{e.position[0]},{e.position[1]},{e.position[2]},NA,NA,LineSource\n" for e in electrodes))
    return geometry, table


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gen-recordings", "gen-templates", "write-weights"])
def test_workers_exit_when_their_parent_is_killed(tmp_path, kind, request):
    if kind == "gen-recordings":  # SpikeInterface's pool
        command = _gen_recordings("out")
    elif kind == "gen-templates":  # our pool
        command = [sys.executable, "-m", "si_recsim.cli", "gen-templates", "-j", "2", "-n", "400", "--no-progress",
                   "-o", "library.h5"]
    else:
        geometry, table = request.getfixturevalue("geometry_with_many_cells")
        command = [sys.executable, "-m", "si_recsim.cli", "write-weights", str(geometry), str(table), "weights.h5",
                   "-j", "2", "--cells-per-batch", "50", "--no-progress"]
    process, workers = _start_and_wait_for_workers(command, tmp_path, 2)
    process.kill()
    process.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_running(pid) for pid in workers), f"workers {workers} outlived their parent ({kind})"


@pytest.mark.slow
@pytest.mark.parametrize("signal_number, status, word", [(signal.SIGTERM, 143, "terminated"),
                                                         (signal.SIGINT, 130, "interrupted")])
def test_a_signal_leaves_no_output_no_temporary_and_no_worker(tmp_path, signal_number, status, word):
    process, workers = _start_and_wait_for_workers(_gen_recordings("out"), tmp_path, 2)
    assert any(name.startswith(".out.si_recsim-tmp-") for name in _names(tmp_path))
    process.send_signal(signal_number)
    _, error = process.communicate(timeout=60)
    assert process.returncode == status and word in error
    assert _names(tmp_path) == []
    time.sleep(2)
    assert not any(_running(pid) for pid in workers)


@pytest.mark.slow
def test_sigkill_leaves_a_temporary_the_next_run_reclaims(tmp_path):
    process, _ = _start_and_wait_for_workers(_gen_recordings("out"), tmp_path, 2)
    process.kill()
    process.wait()
    assert [name for name in _names(tmp_path) if name.startswith(".out.si_recsim-tmp-")]
    assert main(["gen-recordings", "-o", str(tmp_path / "again"), *FAST]) == 0
    assert _names(tmp_path) == ["again"]
