"""The tuned reader: side paths in the shipped cross-encoder graph, its file, and who reads with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from coach.errors import ModelError
from coach.model import DEFAULT_MODEL_FILE, ReaderRef, load_model
from coach.reader import (
    ADAPTER_FORMAT,
    NONE_LOGIT,
    TunedCrossEncoder,
    file_sha256,
    training_groups,
    tune_adapter,
    unanswered_groups,
)
from coach.rerank import CrossEncoder
from coach.settings import default_reranker_dir

SRC = Path(default_reranker_dir())
QUESTION = "How much do these techs make?"
MEDIAN = "Median Salary $47,190 USD (U.S. national median, May 2023)"
EXAMPLE = "For example, a technician in California might earn USD 70,000."
OTHER = "Network with professionals in the healthcare IT field."
QUERY = "What are the main duties of a health information technician?"

pytestmark = pytest.mark.skipif(not (SRC / "model.onnx").is_file(), reason="the cross-encoder is not installed")


def write_reader(path: Path, tensors: dict[str, np.ndarray], fmt: str = ADAPTER_FORMAT) -> Path:
    save_file(tensors, str(path), metadata={"format": fmt, "base_sha256": file_sha256(SRC / "model.onnx")})
    return path


def side_pair(rank: int = 2, scale: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    key = "bert.encoder.layer.11.output.dense.weight"
    return {
        key + ".lora_a": rng.normal(size=(1536, rank)).astype(np.float16),
        key + ".lora_b": (scale * rng.normal(size=(rank, 384))).astype(np.float16),
    }


def test_untuned_side_paths_read_as_shipped(tmp_path: Path) -> None:
    reader = TunedCrossEncoder(SRC, write_reader(tmp_path / "r.safetensors", side_pair(scale=0.0)))
    texts = [MEDIAN, EXAMPLE, OTHER]
    assert np.allclose(reader.score(QUESTION, texts), CrossEncoder(str(SRC)).score(QUESTION, texts), atol=1e-4)
    moved = TunedCrossEncoder(SRC, write_reader(tmp_path / "m.safetensors", side_pair(scale=0.05)))
    assert not np.allclose(moved.score(QUESTION, texts), reader.score(QUESTION, texts), atol=1e-3)


def test_tuning_raises_the_labelled_answer(tmp_path: Path) -> None:
    """Labels that prefer the national median over the California example move the median up."""
    texts = [MEDIAN, EXAMPLE, OTHER, "Learn SQL.", "Hospitals hire them.", "Certification helps.", "Apply online."]
    labels = np.array([True] + [False] * 6)
    logits = np.arange(7.0)[::-1].copy()
    logits[1] = 9.0  # the shipped reader's favourite wrong answer
    groups = training_groups([(QUESTION, texts, labels, logits)] * 24)
    assert all(g[1][0] == MEDIAN and g[1][1] == EXAMPLE for g in groups)
    out = tune_adapter(SRC, groups, tmp_path / "t.safetensors", {"guides": "test"}, lambda m: None, threads=2)
    before = CrossEncoder(str(SRC)).score(QUESTION, [MEDIAN, EXAMPLE])
    after = TunedCrossEncoder(SRC, out).score(QUESTION, [MEDIAN, EXAMPLE])
    assert after[0] - after[1] > before[0] - before[1] + 1.0


def test_tuning_with_unanswered_questions_lowers_what_does_not_answer(tmp_path: Path) -> None:
    """A question the guide never answers ("can they work from home?") is read against "none of
    these": its best text, which the installed reader scores above ``NONE_LOGIT``, falls below it."""
    remote = "Can these techs work from home?"
    texts = [
        "Most technicians work full time, some on evening shifts.",
        "Technicians work in hospitals, clinics and physician offices.",
        "Their offices are usually quiet and well lit.",
        "They spend most of the day at a computer.",
        "Some travel between clinic sites during the week.",
        "They use electronic health record software every day.",
    ]
    installed = CrossEncoder(str(SRC)).score(remote, texts)
    assert installed.max() > NONE_LOGIT  # the installed reader takes the shifts line for an answer
    none = unanswered_groups([(remote, texts, installed)] * 12)
    assert len(none) == 12 and all(q == remote and len(g) == 6 for q, g in none)
    wrong = [EXAMPLE, OTHER, "Learn SQL.", "Hospitals hire them.", "Certification helps.", "Apply online."]
    answered = training_groups([(QUESTION, [MEDIAN, *wrong], np.array([True] + [False] * 6), np.zeros(7))] * 12)
    out = tune_adapter(
        SRC, answered, tmp_path / "t.safetensors", {"guides": "test"}, lambda m: None, threads=2, unanswered=none
    )
    assert TunedCrossEncoder(SRC, out).score(remote, texts).max() < NONE_LOGIT


def test_unusable_reader_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="missing"):
        TunedCrossEncoder(SRC, tmp_path / "absent.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ModelError, match="damaged"):
        TunedCrossEncoder(SRC, tmp_path / "bad.safetensors")
    with pytest.raises(ModelError, match="not one this coach reads"):
        TunedCrossEncoder(SRC, write_reader(tmp_path / "old.safetensors", side_pair(), fmt="0"))
    foreign = {"bert.encoder.layer.99.output.dense.weight.lora_a": np.zeros((4, 2), np.float16)}
    foreign["bert.encoder.layer.99.output.dense.weight.lora_b"] = np.zeros((2, 4), np.float16)
    reader = TunedCrossEncoder(SRC, write_reader(tmp_path / "foreign.safetensors", foreign))
    with pytest.raises(ModelError, match="does not have") as exc:
        reader.score(QUESTION, [MEDIAN])
    assert "python -m coach train" in exc.value.hint


def test_coach_reads_with_its_models_reader(tmp_path: Path, real_coach, real_settings) -> None:  # noqa: ANN001
    from coach.answer import Coach
    from coach.service import open_models

    folder = tmp_path / "model"
    folder.mkdir()
    reader_file = write_reader(folder / "answer_model.reader.safetensors", side_pair(scale=0.05))
    model = load_model(str(DEFAULT_MODEL_FILE)).model_copy(
        update={"reader": ReaderRef(file=reader_file.name, sha256=file_sha256(reader_file))}
    )
    (folder / "answer_model.json").write_text(model.model_dump_json(), encoding="utf-8")
    model = load_model(str(folder / "answer_model.json"))
    coach = Coach(real_coach.index, real_coach.embedder, real_coach.reranker, model)
    assert isinstance(coach.reader(), TunedCrossEncoder) and coach.reader().sha256 == model.reader.sha256
    a = coach.analyze("What does a health information technician do?", [])
    read = [c for c in a.candidates if c.logit is not None]
    logits, contexts = np.array([c.logit for c in read]), [c.context for c in read]
    assert read and np.allclose(
        logits, coach.reader().score(a.res.query, contexts), atol=1e-4
    )  # the answer read with it
    assert not np.allclose(logits, real_coach.reranker.score(a.res.query, contexts), atol=1e-3)
    assert coach.ask("What does a health information technician do?").sentences

    _, warmed = open_models(real_settings, model)
    assert warmed is coach.reader()  # one session per reader file in a process

    changed = tmp_path / "changed"  # the reader file was replaced after the model was fitted
    changed.mkdir()
    written = write_reader(changed / "answer_model.reader.safetensors", side_pair(scale=0.1))
    ref = ReaderRef(file=written.name, sha256=file_sha256(written))
    (changed / "answer_model.json").write_text(model.model_copy(update={"reader": ref}).model_dump_json())
    write_reader(written, side_pair(scale=0.2))
    other = load_model(str(changed / "answer_model.json"))
    with pytest.raises(ModelError, match="not the one the answer model was fitted with"):
        Coach(real_coach.index, real_coach.embedder, real_coach.reranker, other).reader()


def test_training_ships_a_reader_tuned_on_every_guide(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """`coach train`: the model is fitted on turns read by the cross-fitted halves; the reader
    written beside it was tuned on every guide's labels; an installed-reader refit removes it."""
    from types import SimpleNamespace

    import coach.experiment as experiment

    names = ["a", "b", "c"]
    calls: list[tuple] = []
    asked = [(QUESTION, [MEDIAN, EXAMPLE], np.array([True, False]), np.zeros(2))]
    monkeypatch.setattr(experiment, "reader_questions", lambda wb, turns: {n: asked for n in names})
    monkeypatch.setattr(experiment, "cross_fit_readers", lambda wb, q: calls.append(("halves", sorted(q))))
    monkeypatch.setattr(experiment, "rescored", lambda wb, turns: calls.append(("re-read",)) or [*turns, "re-read"])
    monkeypatch.setattr(experiment, "fit_model", lambda turns, log: calls.append(("fitted", turns)))
    monkeypatch.setattr(experiment, "finish", lambda model, sets: load_model(str(DEFAULT_MODEL_FILE)))

    def tune(wb, questions, guides, label):  # noqa: ANN001
        calls.append(("tuned", label, guides))
        path = tmp_path / f"{label}.safetensors"
        save_file(side_pair(), str(path), metadata={"format": ADAPTER_FORMAT, "guides": ",".join(guides),
                                                      "base_sha256": file_sha256(SRC / "model.onnx")})  # fmt: skip
        return path

    monkeypatch.setattr(experiment, "tune_reader", tune)
    wb = SimpleNamespace(sets=[], log=lambda _: None)
    model, reader_file = experiment.train(wb, tuned=True, turns=["t"])
    # the halves read the turns before the model is fitted on them; the shipped reader saw every guide
    assert calls == [("halves", names), ("re-read",), ("fitted", ["t", "re-read"]), ("tuned", "all", names)]

    out = tmp_path / "model" / "answer_model.json"
    out.parent.mkdir()
    experiment.write_trained(model, reader_file, out)
    written = load_model(str(out))
    assert written.reader.trained_on == names and (out.parent / written.reader.file).is_file()
    assert TunedCrossEncoder(SRC, written.reader_file()).sha256 == written.reader.sha256  # it loads

    experiment.write_trained(load_model(str(DEFAULT_MODEL_FILE)).model_copy(update={"reader": None}), None, out)
    load_model.cache_clear()  # the same path, written again
    assert load_model(str(out)).reader is None and not (out.parent / "answer_model.reader.safetensors").exists()


def test_a_cached_reader_names_only_the_guides_it_read(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A guide without labelled in-scope questions adds nothing to a reader: it is not named in the
    file's guides (the cache's digest covers the questions read), and the cached file is reused."""
    from types import SimpleNamespace

    import coach.experiment as experiment
    import coach.reader as reader

    tuned: list[str] = []
    ranks: list[int] = []

    def tune(model_dir, groups, out, meta, log, rank=8, unanswered=()):  # noqa: ANN001
        tuned.append(meta["guides"])
        ranks.append(rank)
        out.parent.mkdir(parents=True, exist_ok=True)
        save_file(side_pair(), str(out), metadata={"format": ADAPTER_FORMAT, **meta})
        return out

    monkeypatch.setattr(reader, "tune_adapter", tune)
    texts = [MEDIAN, EXAMPLE, OTHER, "Learn SQL.", "Hospitals hire them.", "Certification helps.", "Apply online."]
    asked = [(QUESTION, texts, np.array([True] + [False] * 6), np.arange(7.0))]
    wb = SimpleNamespace(reranker=SimpleNamespace(model_dir=str(SRC)), cache=tmp_path, log=lambda _: None)
    first = experiment.tune_reader(wb, {"a": asked, "b": []}, ["a", "b"], "all")
    again = experiment.tune_reader(wb, {"a": asked}, ["a"], "all")
    assert first == again and tuned == ["a"] and ranks == [reader.RANK]
    # A reader with wider side paths is another reader: tuned at that rank, kept in its own file.
    wider = experiment.tune_reader(wb, {"a": asked}, ["a"], "all", rank=4 * reader.RANK)
    assert wider != first and ranks == [reader.RANK, 4 * reader.RANK]


def _reader_file(path: Path, guides: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(side_pair(), str(path), metadata={"format": ADAPTER_FORMAT, "guides": ",".join(guides),
                                                "base_sha256": file_sha256(SRC / "model.onnx")})  # fmt: skip
    return path


def test_a_refit_with_kept_readers_reads_each_guide_with_one_that_never_saw_it(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """`coach train --reader kept`: no reader is tuned when the cache has them. A guide the shipped
    reader was tuned on is read by the half reader tuned without it (found by the guides it names);
    a guide added since is read by the shipped reader, which never saw it; the model ships with it."""
    from types import SimpleNamespace

    import coach.experiment as experiment

    shipped = _reader_file(tmp_path / "model" / "answer_model.reader.safetensors", ["a", "b", "c", "d"])
    readers = tmp_path / "cache" / "readers"
    half0 = _reader_file(readers / "half0-1.safetensors", ["a", "c"])  # halves: a, c / b, d
    half1 = _reader_file(readers / "half1-1.safetensors", ["b", "d"])
    _reader_file(readers / "half1-2.safetensors", ["b", "d", "e"])  # another split: not this reader's half
    monkeypatch.setattr(experiment, "MemoTunedCrossEncoder", lambda model_dir, path: path)
    monkeypatch.setattr(experiment, "tune_reader", lambda *a: pytest.fail("a kept reader was tuned again"))
    monkeypatch.setattr(experiment, "reader_questions", lambda wb, turns: {})
    monkeypatch.setattr(experiment, "rescored", lambda wb, turns: [*turns, dict(wb.readers)])
    fitted = []
    monkeypatch.setattr(experiment, "fit_model", lambda turns, log: fitted.append(turns))
    monkeypatch.setattr(experiment, "finish", lambda model, sets: load_model(str(DEFAULT_MODEL_FILE)))
    wb = SimpleNamespace(
        sets=[SimpleNamespace(name=n) for n in "abcde"], cache=tmp_path / "cache", log=lambda _: None,
        reranker=SimpleNamespace(model_dir=str(SRC), available=True), readers={},
    )  # fmt: skip

    model, reader_file = experiment.train(wb, turns=["t"], kept=shipped)
    assert fitted[0][-1] == {"a": half1, "b": half0, "c": half1, "d": half0, "e": shipped}
    assert reader_file == shipped
    experiment.write_trained(model, reader_file, shipped.with_name("answer_model.json"))  # the reader already there
    assert load_model(str(shipped.with_name("answer_model.json"))).reader.trained_on == ["a", "b", "c", "d"]

    half1.unlink()  # a half the cache does not keep is tuned, on its guides
    tuned = []
    monkeypatch.setattr(experiment, "tune_reader", lambda wb, q, names, label: tuned.append((label, names)) or half1)
    experiment.train(wb, turns=["t"], kept=shipped)
    assert tuned == [("half1", ["b", "d"])]


def test_a_fresh_clone_refits_with_the_half_readers_the_repository_keeps(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The half readers a full `coach train` of the shipped model tuned are kept in the repository
    (eval/readers/, in place of older halves); `--reader kept` in a fresh clone, whose cache is
    empty, then reads with them and tunes none, even when the cache holds halves of the same guides
    tuned later (another experiment's); a file that is no reader is passed over."""
    from types import SimpleNamespace

    import coach.experiment as experiment

    repository = tmp_path / "repository"
    stale = _reader_file(repository / "half0-old.safetensors", ["a", "c"])
    cache = tmp_path / "cache" / "readers"
    halves = {0: _reader_file(cache / "half0-new.safetensors", ["a", "c"]),
              1: _reader_file(cache / "half1-new.safetensors", ["b", "d"])}  # fmt: skip

    def cross_fit(wb, questions):  # noqa: ANN001, ANN202
        wb.half_readers = halves

    monkeypatch.setattr(experiment, "reader_questions", lambda wb, turns: {})
    monkeypatch.setattr(experiment, "cross_fit_readers", cross_fit)
    monkeypatch.setattr(experiment, "rescored", lambda wb, turns: turns)
    monkeypatch.setattr(experiment, "fit_model", lambda turns, log: None)
    monkeypatch.setattr(experiment, "finish", lambda model, sets: load_model(str(DEFAULT_MODEL_FILE)))
    shipped = _reader_file(tmp_path / "all.safetensors", ["a", "b", "c", "d"])
    monkeypatch.setattr(experiment, "tune_reader", lambda *a: shipped)
    wb = SimpleNamespace(sets=[SimpleNamespace(name=n) for n in "abcd"], cache=tmp_path / "cache", log=lambda _: None)
    experiment.train(wb, tuned=True, turns=["t"])
    experiment.keep_half_readers(wb.half_readers, repository)  # as coach train does once the model is written
    assert sorted(p.name for p in repository.iterdir()) == ["half0-new.safetensors", "half1-new.safetensors"]
    assert not stale.exists()

    for path in cache.iterdir():  # a fresh clone: nothing in the cache but another experiment's half
        path.unlink()
    later = _reader_file(cache / "half0-later.safetensors", ["a", "c"])
    (repository / "half1-broken.safetensors").write_text("version https://git-lfs.github.com/spec/v1\n")
    monkeypatch.setattr(experiment, "HALF_READERS", repository)
    monkeypatch.setattr(experiment, "MemoTunedCrossEncoder", lambda model_dir, path: path)
    monkeypatch.setattr(
        experiment, "tune_reader", lambda *a: pytest.fail("a half reader the repository keeps was tuned")
    )
    wb.reranker, wb.readers = SimpleNamespace(model_dir=str(SRC), available=True), {}
    experiment.kept_readers(wb, {}, shipped)
    half0, half1 = repository / "half0-new.safetensors", repository / "half1-new.safetensors"
    assert wb.readers == {"a": half1, "b": half0, "c": half1, "d": half0} and wb.half_readers == {0: half0, 1: half1}
    assert later.exists()


@pytest.mark.parametrize("shipped", [True, False])
def test_coach_train_keeps_half_readers_only_for_the_shipped_model(tmp_path: Path, monkeypatch, shipped) -> None:  # noqa: ANN001
    """`coach train` copies its half readers into the repository once the shipped model is written,
    and never for a model written elsewhere (`--out`, an experiment)."""
    from types import SimpleNamespace

    import coach.experiment as experiment
    from coach.cli import main

    sets = tmp_path / "sets.json"
    (tmp_path / "g.txt").write_text("# G\n\nGs climb towers.\n")
    (tmp_path / "g.jsonl").write_text('{"id": "1", "kind": "single", "turns": [{"q": "pay?"}]}\n')
    sets.write_text('{"guides": [{"name": "g", "guide": "g.txt", "questions": ["g.jsonl"]}]}')
    halves = {0: tmp_path / "half0-x.safetensors", 1: tmp_path / "half1-x.safetensors"}
    events = []
    monkeypatch.setattr(experiment, "Workbench", lambda *a: SimpleNamespace(half_readers={}))
    monkeypatch.setattr(experiment, "require_reranker", lambda reranker: None)

    def train(wb, tuned, kept):  # noqa: ANN001, ANN202
        wb.half_readers = halves
        return load_model(str(DEFAULT_MODEL_FILE)), None

    monkeypatch.setattr(experiment, "train", train)
    monkeypatch.setattr(experiment, "write_trained", lambda model, tuned, out: events.append("model written"))
    monkeypatch.setattr(experiment, "keep_half_readers", lambda files, folder: events.append((files, folder)))
    out = DEFAULT_MODEL_FILE if shipped else tmp_path / "m.json"
    assert main(["train", "--sets", str(sets), "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    assert events == (["model written", (halves, experiment.HALF_READERS)] if shipped else ["model written"])


def test_a_guides_collection_is_kept_until_its_files_change(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """`coach train` and `coach eval --cv` collect a guide's turns once: asked again with the same
    files they come from the cache; a changed question file is collected again, and only its guide."""
    from types import SimpleNamespace

    import coach.experiment as experiment
    from coach.evaluate import GuideSet

    sets = []
    for name in ("wind", "wind-tts"):  # one guide's name starts with the other's
        (tmp_path / f"{name}.txt").write_text(f"# {name}\n\nWind turbine technicians climb towers.\n")
        (tmp_path / f"{name}.jsonl").write_text('{"id": "1", "kind": "single", "turns": [{"q": "pay?"}]}\n')
        sets.append(GuideSet(name=name, guide=tmp_path / f"{name}.txt", questions=[tmp_path / f"{name}.jsonl"]))
    collected = []
    monkeypatch.setattr(experiment, "collect", lambda gs, coach: collected.append(gs.name) or [f"turn of {gs.name}"])
    wb = SimpleNamespace(
        sets=sets, cache=tmp_path / "cache", log=lambda _: None, reranker=None,
        embedder=SimpleNamespace(model_id="fake"), coach=lambda name, model: None,
    )  # fmt: skip

    def run() -> list:
        return experiment.Workbench.collect(wb)

    assert run() == ["turn of wind", "turn of wind-tts"] and collected == ["wind", "wind-tts"]
    assert run() == ["turn of wind", "turn of wind-tts"] and collected == ["wind", "wind-tts"]
    (tmp_path / "wind.jsonl").write_text('{"id": "1", "kind": "single", "turns": [{"q": "hours?"}]}\n')
    assert run() == ["turn of wind", "turn of wind-tts"] and collected == ["wind", "wind-tts", "wind"]
    assert len(list((tmp_path / "cache" / "collected").glob("*.pkl"))) == 2  # the old collection of wind is gone


def test_a_collection_runs_no_code_its_digest_leaves_out() -> None:
    """A kept collection is reused while the code it ran is unchanged (``code_digest``), so the
    modules the digest leaves out, the fit (``coach.train``) among them, must not be what a
    collection runs: refitting after a change to the fit keeps the hour of collecting."""
    import subprocess
    import sys

    from coach.experiment import NOT_COLLECTING

    probe = "import sys, coach.collect, coach.answer; print(' '.join(sorted(sys.modules)))"
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root)
    loaded = run.stdout.split()
    assert "train" in NOT_COLLECTING
    assert not [m for m in loaded if m.startswith("coach.") and m.removeprefix("coach.") in NOT_COLLECTING]


def test_leave_one_guide_out_with_kept_readers_tunes_none(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """`coach eval --cv --reader kept` reads every guide as `coach train --reader kept` does (the kept
    half reader without it, or the model's reader for a guide it never saw) and tunes no reader."""
    from types import SimpleNamespace

    import coach.experiment as experiment

    shipped = _reader_file(tmp_path / "model" / "answer_model.reader.safetensors", ["a", "b"])
    readers = tmp_path / "cache" / "readers"
    half0 = _reader_file(readers / "half0-1.safetensors", ["a"])
    half1 = _reader_file(readers / "half1-1.safetensors", ["b"])
    monkeypatch.setattr(experiment, "MemoTunedCrossEncoder", lambda model_dir, path: path)
    monkeypatch.setattr(experiment, "tune_reader", lambda *a: pytest.fail("a reader was tuned"))
    monkeypatch.setattr(experiment, "cross_fit_readers", lambda *a: pytest.fail("readers were cross-fitted"))
    monkeypatch.setattr(experiment, "reader_questions", lambda wb, turns: {})
    read = []

    class Read(Exception):
        pass

    def rescored(wb, turns):  # noqa: ANN001, ANN202
        read.append(dict(wb.readers))
        raise Read

    monkeypatch.setattr(experiment, "rescored", rescored)
    wb = SimpleNamespace(
        sets=[SimpleNamespace(name=n) for n in "abc"], cache=tmp_path / "cache", log=lambda _: None,
        reranker=SimpleNamespace(model_dir=str(SRC), available=True), readers={}, collect=lambda: ["t"],
    )  # fmt: skip
    with pytest.raises(Read):
        experiment.evaluate_sets(wb, None, cv=True, tuned=True, kept=shipped)
    assert read == [{"a": half1, "b": half0, "c": shipped}]


def test_leave_one_guide_out_with_kept_readers_needs_a_model_with_a_reader(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Asked for kept readers of a model that ships none, `coach eval` says so in one sentence, no traceback."""
    import json

    from coach.cli import main

    bare = load_model(str(DEFAULT_MODEL_FILE)).model_copy(update={"reader": None})
    path = tmp_path / "bare.json"
    path.write_text(bare.model_dump_json(), encoding="utf-8")
    guides = []
    for name in ("one", "two"):
        (tmp_path / f"{name}.txt").write_text(f"# {name}\n\nThe pay is $40,000 a year.\n", encoding="utf-8")
        (tmp_path / f"{name}.jsonl").write_text(
            '{"id": "x", "kind": "single", "turns": [{"q": "pay?", "expect_any": ["40,000"]}]}\n', encoding="utf-8"
        )
        guides.append({"name": name, "guide": f"{name}.txt", "questions": [f"{name}.jsonl"]})
    sets = tmp_path / "sets.json"
    sets.write_text(json.dumps({"guides": guides}), encoding="utf-8")
    code = main(["eval", "--sets", str(sets), "--cv", "--reader", "kept", "--model", str(path)])
    err = capsys.readouterr().err
    assert code != 0 and "has none" in err and "Traceback" not in err


def test_a_reader_copy_cut_short_leaves_the_old_file_whole(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A `coach train` stopped while copying a reader keeps the reader that was there, whole, and no
    half-written file beside it."""
    import shutil

    import coach.experiment as experiment

    src, dst = tmp_path / "new.safetensors", tmp_path / "answer_model.reader.safetensors"
    src.write_bytes(b"new reader" * 100)
    dst.write_bytes(b"old reader")

    def cut(a, b):  # noqa: ANN001, ANN202
        Path(b).write_bytes(b"new re")
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "copyfile", cut)
    with pytest.raises(KeyboardInterrupt):
        experiment.copy_whole(src, dst)
    assert dst.read_bytes() == b"old reader"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answer_model.reader.safetensors", "new.safetensors"]
    monkeypatch.undo()
    experiment.copy_whole(src, dst)
    assert dst.read_bytes() == src.read_bytes()
