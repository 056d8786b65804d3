"""Hybrid retrieval: FAISS dense search and BM25, fused by reciprocal rank.

``retrieve`` returns the best passages; ``candidate_units`` expands them into
the units (sentences, bullets, rows, facts) that answer extraction ranks.
With several guides in the index, ``guide`` (a file name in the corpus)
scopes both searches to one guide; :func:`named_guide` finds the guide a
question names ("what do forest workers earn?").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePath

import numpy as np
from pydantic import BaseModel

from coach import lexical
from coach.chunk import unit_context
from coach.errors import CoachError
from coach.index import Index, passage_words
from coach.records import GuideRecord, Hit, Unit

RRF_K = 60
PASSAGES = 20
"""Passages whose units become candidates. Leave-one-guide-out on 15 guides, 20 against 12:
follow-up hit 0.799 vs 0.772, false abstention 0.036 vs 0.041, single-turn hit equal; the
first-stage model still hands the cross-encoder 8 units, so latency barely moves."""
# Words of a guide's title that say what kind of page it is, not which career.
TITLE_NOISE = frozenset(
    lexical.stem(w)
    for w in """complete ultimate guide guides career careers roles role duties duty skillset skills path paths how
    become becoming job jobs profile profiles overview description handbook outlook salary salaries pay
    uk us usa everything know need what is does do day life working""".split()
)


class Candidate(BaseModel):
    """A unit that may be quoted, with the scores gathered so far."""

    passage: int
    unit: int
    context: str
    dense: float
    passage_score: float
    passage_rank: int = 0
    """Rank of its passage among the retrieved ones (0 = best)."""
    lexical: float = 0.0
    """BM25 score of its passage, relative to the best retrieved passage."""
    logit: float | None = None
    """Cross-encoder logit, when reranked."""
    score: float = 0.0

    def get(self, index: Index) -> Unit:
        return index.passages[self.passage].units[self.unit]


def guide_sources(index: Index) -> list[str]:
    """The guides in the index, as file names relative to the corpus, in index order."""
    return [g.source for g in index.manifest.guides]


def guide_title(index: Index, source: str) -> str:
    return next((g.title for g in index.manifest.guides if g.source == source), source)


def check_guide(index: Index, guide: str | None) -> str | None:
    """``guide`` as a source name of the index (a bare file name is enough), or a clear error."""
    if guide is None:
        return None
    sources = guide_sources(index)
    if guide in sources:
        return guide
    by_name = [s for s in sources if PurePath(s).name == PurePath(guide).name]
    if len(by_name) == 1:
        return by_name[0]
    raise CoachError(
        f"There is no guide called {guide!r} in the corpus.",
        f"Choose one of: {', '.join(sources)}.",
    )


def _positions(index: Index, guide: str) -> np.ndarray:
    """Passage positions of one guide (cached on the index: passages never change once loaded)."""
    cache = index.__dict__.setdefault("_guide_positions", {})
    if guide not in cache:
        cache[guide] = np.asarray([i for i, p in enumerate(index.passages) if p.source == guide], dtype=np.int64)
    return cache[guide]


def _guide_lexical(index: Index, guide: str):  # noqa: ANN202
    """A BM25 index of one guide's passages, and its vocabulary (built on first use, cached on the index).

    A question scoped to one guide is scored with that guide's word
    statistics, exactly as if the guide were alone in the corpus: the whole
    corpus's document frequencies would weigh its words by what other guides say.
    """
    cache = index.__dict__.setdefault("_guide_bm25", {})
    if guide not in cache:
        import bm25s

        bm25 = bm25s.BM25()
        docs = [lexical.tokens(index.passages[i].lexical_text) or ["_"] for i in _positions(index, guide)]
        bm25.index(docs, show_progress=False)
        cache[guide] = (bm25, set(bm25.vocab_dict))
    return cache[guide]


def _lexical(index: Index, qtokens: list[str], guide: str | None) -> np.ndarray:
    """BM25 score of every passage (0 outside the guide when scoped)."""
    if guide is None:
        return index.lexical_scores(qtokens)
    bm25, vocab = _guide_lexical(index, guide)
    lex = np.zeros(len(index.passages), dtype=np.float32)
    toks = [t for t in qtokens if t in vocab]
    if toks:
        lex[_positions(index, guide)] = np.asarray(bm25.get_scores(toks), dtype=np.float32)
    return lex


class _Vocabulary:
    """The words of one guide, answering :meth:`Index.knows` (same inflection rules) for that guide alone."""

    knows = Index.knows

    def __init__(self, words: set[str]) -> None:
        self._word_set = words
        self.words = sorted(words)


def guide_vocabulary(index: Index, guide: str) -> _Vocabulary:
    """One guide's words, with ``knows`` (cached on the index).

    A question scoped to the forestry guide that asks about pharmacists asks
    about something that guide never mentions, even if another guide does.
    """
    cache = index.__dict__.setdefault("_guide_vocab", {})
    if guide not in cache:
        cache[guide] = _Vocabulary(passage_words(p for p in index.passages if p.source == guide))
    return cache[guide]


def career_words(name: str) -> list[str]:
    """The words of a guide's name that name the career, lower-cased ("forest", "conservation", "workers")."""
    return [
        w
        for w in lexical.words(re.sub(r"\(.*?\)", " ", name))
        if w not in lexical.STOPWORDS and (t := lexical.stem(w)) not in TITLE_NOISE and not t.isdigit()
    ]


def occupation_words(title: str) -> list[str]:
    """The stems of a guide title that name the career ("forest", "conserv", "worker")."""
    return [lexical.stem(w) for w in career_words(title)]


def guide_names(guide: GuideRecord) -> tuple[str, str]:
    """The two names a guide is known by: its file name's words, then its title."""
    return PurePath(guide.source).stem.replace("-", " "), guide.title


def _occupations(index: Index) -> dict[str, list[tuple[str, int, int]]]:
    """Career word -> (guide source, which name, how many career words that name has), built once per index.

    A guide is known by two names: its title's career words and its file
    name's ("Teaching as a Second Career" is also ``teacher.txt``). Looking a
    question's words up here costs the same with ten guides or a thousand;
    tokenising every title per question did not.
    """
    cache = index.__dict__.get("_occupations")
    if cache is None:
        cache = {}
        for g in index.manifest.guides:
            names = {tuple(occupation_words(name)) for name in guide_names(g)}
            for k, occ in enumerate(sorted(n for n in names if n)):
                for w in set(occ):
                    cache.setdefault(w, []).append((g.source, k, len(set(occ))))
        index.__dict__["_occupations"] = cache
    return cache


INITIALS_RE = re.compile(r"\b([A-Z]{2,4})(s?)\b")
"""Initials as a job seeker types a career ("OT", "OTs", "PTA"): two to four capitals, a plural "s" allowed."""


def career_initials(index: Index, guide: str | None) -> dict[str, str]:
    """Initials of the careers a guide is named by -> that career's words ("OT" -> "occupational therapist").

    A guide's two names (its file name and its title, as ``named_guide`` reads
    them) give the initials of their first two to four words, leaving out
    function words and the words of a title that name no career ("how to
    become", "guide", "career"); a title with other words first gives initials
    no question uses ("4 Tips on How to Become ..." -> "TH"). Initials that are
    an everyday English word ("HI", "AM", "US", "IT", "OK": ``EVERYDAY_ZIPF``,
    as for job titles) are left out. ``guide`` None: every guide of the index,
    leaving out initials more than one guide could mean (cached on the index
    per guide).
    """
    from wordfreq import zipf_frequency

    cache = index.__dict__.setdefault("_initials", {})
    if guide in cache:
        return cache[guide]
    found: dict[str, dict[str, str]] = {}
    for g in index.manifest.guides:
        if guide is not None and g.source != guide:
            continue
        for name in guide_names(g):
            words = career_words(name)
            for n in range(2, min(len(words), 4) + 1):
                # The file name's wording first: "occupational therapist" rather than the title's plural.
                found.setdefault("".join(w[0] for w in words[:n]).upper(), {}).setdefault(g.source, " ".join(words[:n]))
    cache[guide] = {
        k: next(iter(v.values()))
        for k, v in found.items()
        if len(v) == 1 and zipf_frequency(k.lower(), "en") < EVERYDAY_ZIPF
    }
    return cache[guide]


def expand_initials(question: str, initials: dict[str, str], knows: Callable[[str], bool]) -> str:
    """``question`` with the initials of the guide's career spelt out ("how much do OTs make" -> "how much
    do occupational therapists make"), where the guide itself never uses them and the question does not
    name that career in full already ("cybersecurity analysts in CA" means somewhere, not the career)."""
    said = " ".join(lexical.words(question))

    def spell(m: re.Match[str]) -> str:
        letters, plural = m.group(1), m.group(2)
        if letters not in initials and len(letters) > 2 and letters.endswith("S") and letters[:-1] in initials:
            letters, plural = letters[:-1], "s"  # "OTS" in a question typed in capitals
        name = initials.get(letters)
        if name is None or knows(letters.lower()) or knows(m.group(0).lower()) or name in said:
            return m.group(0)
        return name + ("s" if plural and not name.endswith("s") else "")

    return INITIALS_RE.sub(spell, question) if initials else question


def named_guide(index: Index, question: str) -> str | None:
    """The guide whose career the question names, when the index holds several and one fits best.

    A guide is named when the question has two of the career words of its
    title or file name ("forest ... workers" for "Forest and Conservation
    Workers"), or all of them when there is one ("electricians"). One word of
    several is not enough: "job market" does not name "Digital Marketing".
    The career's initials count as its words ("OTs", ``expand_initials``).
    """
    if len(index.manifest.guides) < 2:
        return None
    question = expand_initials(question, career_initials(index, None), index.knows)  # "OTs" names its guide too
    occupations = _occupations(index)
    hits: dict[tuple[str, int], int] = {}
    size: dict[tuple[str, int], int] = {}
    for w in set(lexical.tokens(question)):
        for source, k, n in occupations.get(w, []):
            hits[(source, k)] = hits.get((source, k), 0) + 1
            size[(source, k)] = n
    best: dict[str, float] = {}
    for key, h in hits.items():
        if h >= 2 or h == size[key]:
            best[key[0]] = max(best.get(key[0], 0.0), h / size[key] + 0.01 * h)
    scored = sorted(((v, g) for g, v in best.items()), reverse=True)
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None
    return scored[0][1]


# A word for a person who does a job: "plumbers", "lawyer", "scientist", "veterinarians".
PERSON_NOUN_RE = re.compile(r"^[a-z]{3,}(?:er|or|ist|ian|eer)s?$")
EVERYDAY_ZIPF = 5.0
"""Words at least this frequent in English ("never", "other") are not job titles."""


def missing_career(index: Index, question: str) -> str | None:
    """A job the question names that no guide of the corpus mentions at all, or None.

    "what do plumbers earn?" asked of a corpus without a word about plumbers
    names a career the corpus lacks. The word must look like a person noun,
    be unknown to every guide, not be an everyday word, and not be a doer of
    something the guides know ("earners" of "earn").
    """
    from wordfreq import zipf_frequency

    for w in lexical.words(question):
        if w in lexical.STOPWORDS or not PERSON_NOUN_RE.match(w) or index.knows(w):
            continue
        base = re.sub(r"(?:er|or|ist|ian|eer)s?$", "", w)
        if len(base) >= 3 and index.knows(base):
            continue
        if zipf_frequency(w, "en") >= EVERYDAY_ZIPF:
            continue
        return w
    return None


def conversation_guide(index: Index, question: str, picked: str | None, previous: str | None) -> str | None:
    """The guide a turn is scoped to: the one picked, else one the question names, else the conversation's.

    A conversation stays with the career it is about ("what do electricians
    earn?" then "and how long is the training?") until another is named.
    """
    return picked or named_guide(index, question) or previous


def dense_search(index: Index, qvec: np.ndarray, pool: int, guide: str | None) -> list[tuple[int, float]]:
    """The ``pool`` passages nearest to ``qvec`` (within one guide when ``guide`` is given)."""
    if guide is None:
        return index.dense_search(qvec, pool)
    import faiss

    ids = _positions(index, guide)
    k = min(pool, len(ids))
    if k <= 0:
        return []
    sel = faiss.IDSelectorBatch(ids)
    params = faiss.SearchParametersHNSW(sel=sel, efSearch=128) if "HNSW" in type(index.dense).__name__ else None
    params = params or faiss.SearchParameters(sel=sel)
    scores, found = index.dense.search(np.ascontiguousarray(qvec.reshape(1, -1), dtype=np.float32), k, params=params)
    return [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if i >= 0]


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest ``scores``, best first, ties by position.

    A partial selection (``argpartition``) plus a sort of those ``k`` only:
    linear in the corpus size, where a full sort is not.
    """
    k = min(k, scores.size)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k < scores.size:
        kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
        above = np.flatnonzero(scores > kth)
        ties = np.flatnonzero(scores == kth)[: k - above.size]  # the first ties by position: a stable choice
        top = np.concatenate([above, ties])
    else:
        top = np.arange(scores.size)
    return top[np.lexsort((top, -scores[top]))][:k]


def retrieve(
    index: Index, qvec: np.ndarray, qtokens: list[str], k: int = PASSAGES, pool: int = 30, guide: str | None = None
) -> list[Hit]:
    """Top ``k`` passages by reciprocal-rank fusion of dense, BM25 and heading rankings.

    Returns ``Hit`` records sorted by fused score (best first); each carries
    its dense cosine and BM25 score for display and diagnostics. With
    ``guide`` (a source name, see :func:`check_guide`) only that guide's
    passages are searched.
    """
    dense = dense_search(index, qvec, pool, guide)
    lex = _lexical(index, qtokens, guide)
    fused: dict[int, float] = {}
    dense_score = dict(dense)
    for rank, (i, _) in enumerate(dense):
        fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
    if lex.any():
        order = top_k(lex, pool)
        for rank, i in enumerate(order):
            if lex[i] <= 0:
                break
            fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (RRF_K + rank + 1)
    heads = index.heading_search
    if heads is not None and len(heads):
        # The guide's own headings ("Median Salary", an FAQ question) against the
        # question: a heading can name what a terse fact block never says.
        hs = heads @ qvec.astype(np.float32)
        if guide is not None:
            keep = np.full(hs.shape, -np.inf, dtype=np.float32)
            keep[_positions(index, guide)] = 0.0
            hs = hs + keep
        for rank, i in enumerate(top_k(hs, pool)):
            if not np.isfinite(hs[i]):
                break
            fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
    return [
        Hit(
            passage=index.passages[i],
            score=s,
            dense=dense_score.get(i, 0.0),
            lexical=float(lex[i]) if lex.size else 0.0,
        )
        for i, s in best
    ]


def candidate_units(
    index: Index,
    qvec: np.ndarray,
    passage_ids: list[int],
    passage_scores: list[float],
    lexical: list[float] | None = None,
) -> list[Candidate]:
    """Every quotable unit of the given passages, with its cosine to the query.

    ``passage_ids`` are in retrieval order; ``lexical`` gives each passage's BM25 score.
    """
    out: list[Candidate] = []
    lexical = lexical or [0.0] * len(passage_ids)
    top_lex = max(lexical, default=0.0) or 1.0
    for rank, (pid, pscore) in enumerate(zip(passage_ids, passage_scores, strict=True)):
        passage = index.passages[pid]
        base = index.unit_start[pid]
        for j, unit in enumerate(passage.units):
            if unit.kind == "heading":
                continue
            vec = index.unit_vectors[base + j].astype(np.float32)
            out.append(
                Candidate(
                    passage=pid,
                    unit=j,
                    context=unit_context(passage, unit),
                    dense=float(vec @ qvec),
                    passage_score=pscore,
                    passage_rank=rank,
                    lexical=lexical[rank] / top_lex,
                )
            )
    return out
