"""Shared fixtures: temp data paths, a fake embedder, one real model and one PostgreSQL server per session."""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from coach import lexical
from coach.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = ROOT / "corpus" / "health-information-systems-technician.txt"


class FakeEmbedder:
    """Deterministic bag-of-stems hashing embedder: no model, same text -> same vector."""

    model_id = "fake/hashing@1"
    dimension = 64

    def encode(self, texts, batch_size: int = 32, progress=None) -> np.ndarray:  # noqa: ANN001
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for tok in lexical.tokens(text) or ["_empty"]:
                h = int(hashlib.md5(tok.encode()).hexdigest(), 16)
                out[row, h % self.dimension] += 1.0 if (h >> 8) % 2 else -1.0
            norm = np.linalg.norm(out[row]) or 1.0
            out[row] /= norm
            if progress is not None:
                progress(row + 1, len(texts))
        return out


@pytest.fixture(autouse=True)
def _no_repository_half_readers(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the half readers the repository keeps (``eval/readers/``)."""
    import coach.experiment

    monkeypatch.setattr(coach.experiment, "HALF_READERS", tmp_path_factory.mktemp("half-readers"))


@pytest.fixture(autouse=True)
def _keep_the_main_module() -> Iterator[None]:
    """Streamlit's AppTest installs the app script as ``sys.modules["__main__"]`` and leaves it there.
    A process pool started later with "spawn" would then run that script in every child: the chat
    page, with the default paths, building the project's own index and writing its audit log."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A corpus folder with the seed guide and the two fixture guides."""
    d = tmp_path / "corpus"
    d.mkdir()
    shutil.copy(SEED, d / SEED.name)
    shutil.copy(FIXTURES / "wind-turbine-technician.txt", d)
    shutil.copy(FIXTURES / "dental-hygienist.md", d)
    return d


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", audit_db=tmp_path / "audit.sqlite3")


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the seed guide alone, with an index built once by the real model."""
    base = tmp_path_factory.mktemp("real")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    return Settings(corpus_dir=corpus, index_dir=base / "index", audit_db=base / "audit.sqlite3")


@pytest.fixture(scope="session")
def real_coach(real_settings: Settings):  # noqa: ANN201
    """One real embedder + reranker + index for all end-to-end tests."""
    from coach.service import open_coach

    return open_coach(real_settings)


# -- PostgreSQL: one server per session, started from the Debian binaries, a fresh database per test --


def _debian_pg_ctl() -> str | None:
    """pg_ctl of the newest installed Debian PostgreSQL (``apt-get install postgresql``), or $COACH_PG_CTL."""
    if os.environ.get("COACH_PG_CTL"):
        return os.environ["COACH_PG_CTL"]
    found = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    found.sort(key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return found[-1] if found else shutil.which("pg_ctl")


@pytest.fixture(scope="session")
def postgresql_proc(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """pytest-postgresql's server fixture, overridden so that it also runs as root (as CI does).

    PostgreSQL refuses to start as root, and pytest's temp folders are private
    to their owner, so under root pg_ctl runs as the ``postgres`` user in a
    folder that user owns. Missing binaries skip the tests on a developer's
    machine (with the reason shown) but fail them under CI=true; a server that
    does not start always fails them, with the end of its log.
    """
    from port_for import select_random
    from pytest_postgresql.executors import PostgreSQLExecutor
    from pytest_postgresql.janitor import DatabaseJanitor

    pg_ctl = binary = _debian_pg_ctl()
    if pg_ctl is None or not os.access(pg_ctl, os.X_OK):
        reason = (
            "the PostgreSQL server is not installed (apt-get install postgresql), so the audit store is untested on it"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must run these tests (.ci/run installs it).", pytrace=False)
        pytest.skip(reason)
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("Running as root, but there is no postgres user to run PostgreSQL as.", pytrace=False)
        base = Path(tempfile.mkdtemp(prefix="coach-pg-"))
        os.chown(base, owner.pw_uid, owner.pw_gid)
        wrapper = base / "pg_ctl"
        # from a folder postgres may enter: the caller's may be private to root
        wrapper.write_text(
            f'#!/bin/sh\ncd {shlex.quote(str(base))} && exec runuser -u postgres -- {shlex.quote(pg_ctl)} "$@"\n'
        )
        wrapper.chmod(0o755)
        pg_ctl = str(wrapper)
    else:
        base = tmp_path_factory.mktemp("postgresql")
    executor = PostgreSQLExecutor(
        executable=pg_ctl, host="127.0.0.1", port=select_random(), datadir=str(base / "data"),
        unixsocketdir=str(base), logfile=str(base / "postgresql.log"), startparams="-w", dbname="tests",
        # Throwaway data: no fsync, so a test's commits cost what the code costs, not what the disk does.
        postgres_options="-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
    )  # fmt: skip
    try:
        executor.start()
        # The template that pytest-postgresql's ``postgresql`` fixture copies for each test.
        DatabaseJanitor(user=executor.user, host=executor.host, port=executor.port,
                        dbname=executor.template_dbname, as_template=True).init()  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported with the server's log
        log = base / "postgresql.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log written)"
        if executor.running():
            executor.stop()
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL ({binary}) did not start: {exc}\n{tail}", pytrace=False)
    try:
        yield executor
    finally:
        executor.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgresql_url(postgresql_proc, postgresql) -> Iterator[str]:  # noqa: ANN001
    """SQLAlchemy URL of a fresh, empty database on the session's PostgreSQL (dropped after the test)."""
    p = postgresql_proc
    yield f"postgresql+psycopg://{p.user}@{p.host}:{p.port}/{postgresql.info.dbname}"


def labelled_turn(guide: str, conv: str, qvec: np.ndarray, labels: np.ndarray, abstain: bool = False, uvecs=None):  # noqa: ANN001, ANN201
    """A collected turn with only what the question map and the question prior read: its guide, question
    vector (embedder "fake"), which candidates answer it and their unit vectors; zero feature rows."""
    from coach.collect import TurnData
    from coach.features import CANDIDATE_FEATURES

    n = len(labels)
    return TurnData(
        guide=guide, conv=conv, turn=0, abstain=abstain, rows=np.zeros((n, len(CANDIDATE_FEATURES))), labels=labels,
        words=[5] * n, texts=[f"unit {j}" for j in range(n)], unknown=[], subject=[], gain=0.0, unknown_names=0.0,
        wanted=[], followup=False, reranked=False, qvec=qvec, uvecs=uvecs, embedder="fake",
    )  # fmt: skip
