"""The training animation (comparisons.figures.animation): verified frames, a deterministic GIF.

Expected frame outputs are computed here independently: the 2-16-16-1 ReLU
network's score in NumPy float64 from the ``torch`` backend's parameters at the
frame's step (conftest's ``trajectories``). Closeness: float64 rtol = atol =
1e-12, the verification tolerance (two implementations of the same forward,
each a few dozen roundings from exact).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

import functional_training as ft
from comparisons.experiments import REGISTRY
from comparisons.figures import animation
from comparisons.figures.classifiers import MOONS

from .drawn import by_gid, draw

TOL = ft.tolerance("float64", 0)


def numpy_scores(params: dict, sizes, points: np.ndarray) -> np.ndarray:
    """The ReLU network's score at ``points`` from scalar parameters ``layers.l.w[i,j]``."""
    h = points
    for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        w = np.array([[params[f"layers.{layer}.w[{i},{j}]"] for j in range(n_out)]
                      for i in range(n_in)])
        b = np.array([params[f"layers.{layer}.b[{j}]"] for j in range(n_out)])
        h = h @ w + b
        if layer < len(sizes) - 2:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def test_frames_are_every_fifth_update_and_the_last():
    assert animation.frame_steps(100) == list(range(0, 101, 5))
    assert animation.frame_steps(12, 5) == [0, 5, 10, 12]
    assert animation.frame_steps(3, 1) == [0, 1, 2, 3]


def test_each_frame_is_the_network_at_that_step(data, trajectories):
    d = data["figures"]["moons-training-animation"]
    torch = trajectories(MOONS)["torch"]
    sizes = REGISTRY[MOONS].model_settings["sizes"]
    assert [f["step"] for f in d["frames"]] == animation.frame_steps(100)
    gx, gy = np.meshgrid(d["xs"], d["ys"])
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    for frame in (d["frames"][1], d["frames"][-1]):
        k = frame["step"]
        params = {name: values[k] for name, values in torch.params.items()}
        expected = numpy_scores(params, sizes, grid)
        np.testing.assert_allclose(np.asarray(frame["outputs"]).ravel(), expected,
                                   rtol=TOL, atol=TOL)
        points = np.column_stack([d["points"]["x"], d["points"]["y"]])
        predicted = np.where(numpy_scores(params, sizes, points) > 0, 1.0, -1.0)
        assert frame["predicted"] == predicted.tolist()
    assert d["accuracy"] == torch.extras["train_accuracy"]


def _tiny() -> dict:
    """Two frames of a 5 x 5 grid: enough to draw, cheap to encode."""
    xs = ys = [0.0, 0.25, 0.5, 0.75, 1.0]
    frames = [{"step": k, "predicted": [-1.0, 1.0],
               "outputs": [[x + y - 1.0 + 0.1 * k for x in xs] for y in ys]} for k in (0, 1)]
    return {"xs": xs, "ys": ys, "classes": [-1.0, 1.0], "class_names": ["−1", "+1"],
            "points": {"x": [0.2, 0.8], "y": [0.2, 0.8], "label": [-1.0, 1.0]},
            "x_label": "x₁", "y_label": "x₂", "equal_aspect": True, "loss_label": "loss",
            "steps": 1, "loss": [1.0, 0.5], "accuracy": [0.5, 1.0],
            "frames": frames}


def test_the_gif_is_byte_identical_twice_and_has_every_frame(monkeypatch):
    monkeypatch.setattr(animation, "HOLD_LAST", 2)  # one held copy: fewer frames to draw
    first = animation.gif_bytes(_tiny(), "tiny")
    assert first == animation.gif_bytes(_tiny(), "tiny")
    image = Image.open(io.BytesIO(first))
    assert image.format == "GIF" and image.size == (960, 540)  # 10 x 5.625 in at 96 dpi
    assert image.n_frames == 2  # Pillow merges the held copies of the last frame
    assert image.info["duration"] == 1000 // animation.GIF_FPS and image.info["loop"] == 0


def test_without_ffmpeg_only_the_gif_is_written(monkeypatch):
    monkeypatch.setattr(animation.shutil, "which", lambda name: None)
    monkeypatch.setattr(animation, "gif_bytes", lambda data, title: b"GIF89a")  # drawn above
    assert not animation.mp4_available()
    assert animation.animation_files(_tiny(), "tiny") == {"gif": b"GIF89a"}


def test_the_course_gif_is_small_and_the_static_figure_marks_the_snapshots(data, rendered):
    gif = rendered.out / "moons-training-animation.gif"
    assert gif in rendered.written
    assert 0 < gif.stat().st_size < animation.MAX_GIF_BYTES
    with Image.open(gif) as image:
        assert image.n_frames >= len(data["figures"]["moons-training-animation"]["frames"])
    fig = draw("moons-training-animation", data)
    marked = by_gid(fig, "marked steps").get_xdata()
    assert list(marked) == [0, 5, 10, 20, 35, 60, 100]
