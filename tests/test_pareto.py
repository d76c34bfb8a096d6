import json
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from morl.pareto import ParetoArchive, crowding_distance
from morl.points import non_dominated, non_dominated_mask, supported_mask
from morl.storage import FormatError

small_ints = st.integers(-3, 3).map(float)  # small grid: many ties and duplicates


def candidate_sets(max_n=40):
    return st.integers(2, 4).flatmap(
        lambda m: arrays(np.float64, st.tuples(st.integers(1, max_n), st.just(m)), elements=small_ints)
    )


def dominates(a, b):
    return bool(np.all(a >= b) and np.any(a > b))


@given(candidate_sets())
@settings(max_examples=200, deadline=None)
def test_archive_after_any_adds_equals_brute_force_front(candidates):
    archive = ParetoArchive()
    for value in candidates:
        archive.add(value)
    stored = archive.values
    for i, a in enumerate(stored):
        for j, b in enumerate(stored):
            assert i == j or not (dominates(a, b) or np.array_equal(a, b))
    expected = {tuple(c) for c in candidates if not any(dominates(o, c) for o in candidates)}
    assert {tuple(v) for v in stored} == expected
    assert {tuple(v) for v in non_dominated(candidates)} == expected
    assert non_dominated_mask(candidates).sum() == len(expected)


def test_supported_mask_marks_points_inside_the_convex_hull():
    # (1, 1) lies below the segment (0, 3) - (3, 0): no w on the simplex prefers it; (1.5, 1.5) lies on it (a tie)
    points = np.array([[0.0, 3.0], [1.0, 1.0], [3.0, 0.0], [1.5, 1.5], [0.5, 0.5]])
    assert supported_mask(points).tolist() == [True, False, True, True, False]  # (0.5, 0.5) is dominated
    assert supported_mask([[1.0, 2.0]]).tolist() == [True]
    assert supported_mask(np.zeros((0, 2))).tolist() == []
    cube = np.array([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0], [0.9, 0.9, 0.9], [1.1, 1.1, 1.1]])
    assert supported_mask(cube).tolist() == [True, True, True, False, True]  # the plane x + y + z = 3 splits them
    with pytest.raises(ValueError, match="tol must be >= 0"):
        supported_mask(points, tol=-1.0)


@given(candidate_sets(max_n=12))
@settings(max_examples=50, deadline=None)
def test_supported_points_are_those_some_grid_weight_prefers(points):
    """Every non-dominated point that some weight prefers is supported; no dominated point is."""
    mask = supported_mask(points)
    assert not np.any(mask & ~non_dominated_mask(points))
    m = points.shape[1]
    rng = np.random.default_rng(0)
    weights = np.vstack([np.eye(m), rng.dirichlet(np.ones(m), 200)])
    for w in weights:
        best = points @ w
        winners = np.flatnonzero(best == best.max())
        nd = [i for i in winners if non_dominated_mask(points)[i]]
        assert all(mask[i] for i in nd), (points, w, mask)


def test_add_returns_whether_stored_and_ties_keep_the_older():
    archive = ParetoArchive(2)
    assert archive.add([1.0, 1.0], meta={"name": "first"})
    assert not archive.add([1.0, 1.0], meta={"name": "second"})
    assert not archive.add([0.5, 1.0])
    assert archive.add([2.0, 0.0])
    assert archive.add([2.0, 2.0])  # dominates both
    assert len(archive) == 1 and archive.entries[0].value.tolist() == [2.0, 2.0]
    assert archive.entries[0].meta == {}


def test_add_rejects_bad_values_and_preferences():
    archive = ParetoArchive(2)
    with pytest.raises(ValueError, match="2 objectives"):
        archive.add([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        archive.add([np.nan, 1.0])
    with pytest.raises(ValueError, match="sum to 1"):
        archive.add([1.0, 1.0], preference=[0.2, 0.2])


def test_crowding_distance_nsga2_definition():
    points = np.array([[0.0, 10.0], [1.0, 6.0], [4.0, 4.0], [10.0, 0.0]])
    cd = crowding_distance(points)
    assert np.isinf(cd[0]) and np.isinf(cd[3])
    # (next - prev) / range per objective, summed
    assert cd[1] == pytest.approx((4 - 0) / 10 + (10 - 4) / 10)
    assert cd[2] == pytest.approx((10 - 1) / 10 + (6 - 0) / 10)
    assert np.all(np.isinf(crowding_distance(points[:2])))


def test_select_extremes_first_and_exclude():
    archive = ParetoArchive(2)
    for v in ([0.0, 10.0], [1.0, 6.0], [4.0, 4.0], [10.0, 0.0]):
        archive.add(v)
    first = archive.select(2)
    assert {tuple(e.value) for e in first} == {(0.0, 10.0), (10.0, 0.0)}
    nxt = archive.select(1, exclude=[e.id for e in first])
    assert nxt[0].value.tolist() == [4.0, 4.0]  # larger crowding distance than [1, 6]
    assert len(archive.select(10, exclude=[e.id for e in archive.entries])) == 0


def test_max_size_prunes_most_crowded():
    archive = ParetoArchive(2, max_size=3)
    for x in (0.0, 1.0, 1.1, 5.0):
        archive.add([x, 5.0 - x])
    assert len(archive) == 3
    assert {tuple(v) for v in archive.values} >= {(0.0, 5.0), (5.0, 0.0)}


def test_policy_for_linear_and_chebyshev():
    archive = ParetoArchive(2)
    archive.add([10.0, 0.0], policy="a")
    archive.add([6.0, 6.0], policy="b")  # concave-region point (below the segment (10,0)-(0,13))
    archive.add([0.0, 13.0], policy="c")
    assert archive.policy_for([1.0, 0.0]) == "a"
    assert archive.policy_for([0.5, 0.5]) == "c"  # weighted sum cannot pick the concave point
    assert archive.policy_for([0.5, 0.5], utility="chebyshev") == "b"
    with pytest.raises(ValueError, match="length 2"):
        archive.policy_for([1.0])
    with pytest.raises(ValueError, match="empty"):
        ParetoArchive(2).policy_for([1.0, 0.0])


def test_hypervolume_of_archive():
    archive = ParetoArchive(2)
    archive.add([1.0, 2.0])
    archive.add([2.0, 1.0])
    assert archive.hypervolume([0.0, 0.0]) == pytest.approx(3.0)


def _archive_with_policies():
    archive = ParetoArchive(2)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    archive.add([1.0, 2.0], policy=net, preference=[0.25, 0.75], meta={"step": 5, "tag": "x"})
    archive.add([2.0, 1.0], policy={"w": torch.arange(3.0)}, meta={"score": np.float32(1.5)})
    archive.add([0.5, 0.5])  # dominated: not stored
    archive.add([3.0, 0.0])
    return archive, net


def test_save_load_round_trip(tmp_path):
    archive, net = _archive_with_policies()
    archive.save(tmp_path / "a")
    loaded = ParetoArchive.load(tmp_path / "a")
    np.testing.assert_array_equal(loaded.values, archive.values)
    assert [e.id for e in loaded.entries] == [e.id for e in archive.entries]
    first = loaded.entries[0]
    np.testing.assert_allclose(first.preference, [0.25, 0.75])
    assert first.meta == {"step": 5, "tag": "x"}
    for key, tensor in net.state_dict().items():
        torch.testing.assert_close(first.policy[key], tensor)
    assert loaded.entries[2].policy is None
    assert loaded.add([0.0, 5.0]) and loaded.entries[-1].id == archive._next_id  # ids continue


def test_save_replaces_stale_weights(tmp_path):
    archive, _ = _archive_with_policies()
    archive.save(tmp_path)
    archive.add([5.0, 5.0], policy={"w": torch.ones(1)})  # dominates everything
    archive.save(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [f"policy-{archive.entries[0].id}.safetensors"]
    assert not list(tmp_path.glob("*.tmp"))


def test_load_rejects_corrupt_truncated_and_foreign(tmp_path):
    archive, _ = _archive_with_policies()
    archive.save(tmp_path / "ok")
    index = tmp_path / "ok" / "index.json"

    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match="does not exist"):
        ParetoArchive.load(tmp_path / "empty")

    text = index.read_text()
    index.write_text(text[: len(text) // 2])
    with pytest.raises(FormatError, match="not valid JSON"):
        ParetoArchive.load(tmp_path / "ok")

    index.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(FormatError, match="not a morl archive"):
        ParetoArchive.load(tmp_path / "ok")

    data = json.loads(text)
    index.write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(FormatError, match="version 99"):
        ParetoArchive.load(tmp_path / "ok")

    bad = json.loads(text)
    bad["entries"][0]["weights"] = "../../etc/passwd"
    index.write_text(json.dumps(bad))
    with pytest.raises(FormatError, match="outside the archive"):
        ParetoArchive.load(tmp_path / "ok")

    bad = json.loads(text)
    bad["entries"][0]["value"] = [1.0]
    index.write_text(json.dumps(bad))
    with pytest.raises(FormatError, match="malformed entry"):
        ParetoArchive.load(tmp_path / "ok")

    index.write_text(text)
    weights = tmp_path / "ok" / data["entries"][0]["weights"]
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(FormatError, match="not a valid safetensors"):
        ParetoArchive.load(tmp_path / "ok")


class _Exploit:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path("/tmp/morl-pwned-by-archive"),))


def test_load_never_unpickles(tmp_path):
    marker = "/tmp/morl-pwned-by-archive"
    import os

    if os.path.exists(marker):
        os.remove(marker)
    archive, _ = _archive_with_policies()
    archive.save(tmp_path)
    name = json.loads((tmp_path / "index.json").read_text())["entries"][0]["weights"]
    (tmp_path / name).write_bytes(pickle.dumps(_Exploit()))
    torch.save({"x": _Exploit()}, tmp_path / "fake.pt")
    with pytest.raises(FormatError):
        ParetoArchive.load(tmp_path)
    assert not os.path.exists(marker)


def test_drop_unused_networks_forgets_snapshots_no_entry_names(tmp_path):
    archive = ParetoArchive(2)
    archive.add_network("net@1", {"w": torch.zeros(1)})
    archive.add([1.0, 1.0], network="net@1", preference=[0.5, 0.5])
    archive.add_network("net@2", {"w": torch.ones(1)})
    archive.add([0.5, 0.5], network="net@2", preference=[0.5, 0.5])  # dominated: net@2 is named by nothing
    assert archive.drop_unused_networks() == ["net@2"]
    archive.add_network("net@3", {"w": torch.ones(1)})
    archive.add([2.0, 2.0], network="net@3", preference=[0.5, 0.5])  # dominates net@1's only entry
    assert archive.drop_unused_networks() == ["net@1"]
    assert list(archive.networks) == ["net@3"]
    archive.save(tmp_path)
    assert [p.name for p in tmp_path.glob("network-*")] == ["network-net@3.safetensors"]
