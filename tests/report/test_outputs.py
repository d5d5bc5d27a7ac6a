import json

import numpy as np
import pytest
import uproot

from latentsym.errors import OutputError
from latentsym.report.outputs import (
    atomic_write_json,
    prepare_output_dir,
    write_latents_root,
)


def test_refuses_non_empty_folder_without_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"not empty\. Pass --overwrite"):
        prepare_output_dir(out)
    assert prepare_output_dir(out, overwrite=True) == out.resolve()
    assert (out / "notes.txt").read_text() == "mine"


def test_refuses_input_inside_output(tmp_path):
    inp = tmp_path / "a.lhe"
    inp.write_text("x")
    with pytest.raises(OutputError, match="lies inside the output folder"):
        prepare_output_dir(tmp_path, [inp], overwrite=True)
    with pytest.raises(OutputError, match="is one of the input files"):
        prepare_output_dir(inp, [inp])


def test_atomic_json_converts_numpy_and_nan(tmp_path):
    p = atomic_write_json(
        tmp_path / "s.json", {"a": np.float32(1.5), "b": np.arange(3), "c": float("nan")}
    )
    assert json.loads(p.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": None}
    assert [q.name for q in tmp_path.iterdir()] == ["s.json"]


def test_latents_root_one_entry_per_input_event(tmp_path):
    mu = np.array([[1.0, 2.0], [3.0, 4.0]])
    sigma = np.array([[0.1, 0.2], [0.3, 0.4]])
    path = write_latents_root(
        tmp_path / "latents.root", n_events=4, event_index=np.array([0, 2]), mu=mu, sigma=sigma
    )
    t = uproot.open(path)["latents"]
    arr = t.arrays(library="np")
    np.testing.assert_array_equal(arr["event"], [0, 1, 2, 3])
    np.testing.assert_array_equal(arr["used"], [1, 0, 1, 0])
    np.testing.assert_allclose(arr["mu_1"][[0, 2]], [2.0, 4.0])
    assert np.isnan(arr["sigma_0"][1])
