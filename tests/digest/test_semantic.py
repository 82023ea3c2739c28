"""The offline embedding model and what its stored vectors add to matching: a typed
keyword read as the curated topic it names, papers close in meaning, feedback that
re-ranks, and the lexical matcher alone when the model is off."""

from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from digest import decision, semantic
from digest.matching import CatalogStats, Interest, PaperIndex, TopicTerms
from digest.meaning import Feedback, SemanticContext, TopicVector
from digest.models import Paper, Topic
from digest.vectors import embed_keywords
from tests.digest.semantic_helpers import load_embedded_sample, rolled_back_afterwards

ROOT = Path(__file__).resolve().parents[2]

# Marked so that pytest-django sets the test database up even when this module runs alone:
# its module-scoped sample is loaded through `django_db_blocker`, which otherwise reaches
# whatever database the settings name (the developer's own).
pytestmark = pytest.mark.django_db


def test_the_model_loads_from_the_installed_package_with_no_network(tmp_path):
    # A new network namespace has no interface but loopback: any download would fail.
    script = (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'digest.settings'); django.setup();"
        "from digest import semantic; import numpy as np;"
        "v = semantic.get_embedder().embed(['post-training quantization of LLMs']);"
        "print(v.shape[1], round(float(np.linalg.norm(v[0])), 3))"
    )
    env = {**os.environ, "VAR_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1", "DATABASE_URL": ""}
    env.pop("DATABASE_URL")
    result = subprocess.run(
        ["unshare", "--net", "--map-root-user", sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["384", "1.0"]


def test_a_model_file_that_differs_from_the_pinned_one_is_refused(tmp_path):
    changed = tmp_path / "model.onnx"
    shutil.copyfile(semantic.installed_model_path(), changed)
    with changed.open("r+b") as handle:
        handle.seek(4096)
        byte = handle.read(1)
        handle.seek(4096)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(semantic.ModelUnavailable, match="SHA-256"):
        semantic.Embedder(changed)


def test_similar_texts_get_similar_vectors():
    embedder = semantic.get_embedder()
    query, near, far = embedder.embed(
        [
            "quantization of large language models",
            "Post-training 4-bit weight quantization for LLM inference",
            "A new corpus of bird songs for species recognition",
        ]
    )
    assert float(query @ near) > float(query @ far) + 0.2
    stored = semantic.from_bytes(semantic.to_bytes(query))
    assert stored.dtype == np.float32 and float(stored @ query) > 0.999  # float16 storage loses nothing that counts


def two_paper_listing(folder: Path) -> Path:
    listing = folder / "listing.txt"
    listing.write_text(
        "Daily Papers\n\n"
        "Sparse experts for speech\n\nWe route audio frames to a few of many experts, so that a large "
        "speech model costs little to run. It transcribes as well as a dense model twice its cost.\n\n"
        "Graph networks for molecules\n\nWe predict the properties of molecules with message passing "
        "between atoms, and beat earlier graph networks on three public benchmarks.\n",
        encoding="utf-8",
    )
    return listing


@pytest.mark.django_db
def test_an_import_stores_a_vector_for_every_new_paper_and_embed_papers_fills_gaps(tmp_path, settings):
    listing = two_paper_listing(tmp_path)
    out = StringIO()
    call_command("import_papers", str(listing), stdout=out, stderr=StringIO())
    assert "embedded 2 papers" in out.getvalue()
    assert all(len(bytes(p.embedding)) == semantic.VECTOR_BYTES for p in Paper.objects.all())
    assert all(t.embedding is not None for t in Topic.objects.all())

    Paper.objects.update(embedding=None)  # as after an import with the model switched off
    out = StringIO()
    call_command("embed_papers", "--missing", stdout=out, stderr=StringIO())
    assert out.getvalue().startswith("embedded 2 papers")
    assert not Paper.objects.filter(embedding__isnull=True).exists()


@pytest.mark.django_db
def test_the_signup_preview_sees_papers_embedded_after_it_first_looked(tmp_path):
    # Its index is kept while the day's papers are unchanged; a vector added by
    # embed_papers is a change (before, the preview matched by words alone until the
    # next listing day).
    from subscriptions import services

    listing = two_paper_listing(tmp_path)
    call_command("import_papers", str(listing), stdout=StringIO(), stderr=StringIO())
    Paper.objects.update(embedding=None)  # as after an import with the model switched off
    services._index_cache.clear()
    assert not services.listing_index(services.latest_listing())._has_vector.any()

    call_command("embed_papers", "--missing", stdout=StringIO(), stderr=StringIO())

    assert services.listing_index(services.latest_listing())._has_vector.all()


@pytest.mark.django_db
def test_embed_papers_all_also_computes_readers_keywords_again():
    # After a model change (or a change to what the model reads for a keyword) every
    # stored vector must be recomputed, the readers' keywords too.
    from digest.models import EmbeddedKeyword
    from subscriptions.models import Subscriber

    Subscriber.objects.create(email="reader@example.org", keywords=["finetuning"])
    EmbeddedKeyword.objects.create(key="finetuning", embedding=semantic.to_bytes(np.ones(semantic.DIMENSIONS)))
    out = StringIO()
    call_command("embed_papers", "--missing", stdout=out, stderr=StringIO())
    assert "0 keywords" in out.getvalue()
    call_command("embed_papers", "--all", stdout=out, stderr=StringIO())
    assert "1 keywords" in out.getvalue()
    # --keywords does only that (quick, after an upgrade that reads keywords differently).
    EmbeddedKeyword.objects.update(embedding=semantic.to_bytes(np.ones(semantic.DIMENSIONS)))
    out = StringIO()
    call_command("embed_papers", "--keywords", stdout=out, stderr=StringIO())
    assert out.getvalue().startswith("embedded 1 keywords in")
    stored = semantic.from_bytes(EmbeddedKeyword.objects.get(key="finetuning").embedding)
    expected = semantic.get_embedder().embed(["finetuning"])[0]  # an empty catalog spells nothing
    assert float(stored @ expected) > 0.999


@pytest.mark.django_db
def test_with_semantic_matching_off_an_import_says_so_and_stores_no_vector(tmp_path, settings):
    settings.SEMANTIC_MATCHING = False
    listing = tmp_path / "listing.txt"
    listing.write_text(
        "Daily Papers\n\nA paper on sorting\n\nWe sort numbers faster than before, with a network of "
        "comparators found by search, and prove it correct for every input size we tried.\n",
        encoding="utf-8",
    )
    out = StringIO()
    call_command("import_papers", str(listing), stdout=out, stderr=StringIO())
    assert (
        "not embedded (semantic matching is switched off (SEMANTIC_MATCHING=off)): matching is lexical only"
        in out.getvalue()
    )
    assert Paper.objects.get().embedding is None


@pytest.fixture(scope="module")
def embedded(django_db_setup, django_db_blocker):
    """The sample with real vectors, and an index over it built as a run builds it;
    rolled back after the module."""
    with rolled_back_afterwards(django_db_blocker):
        by_position = load_embedded_sample()
        embed_keywords(["LLM agents", "zxqv blorft", "jailbreaks", "federated learning", "code LLMs", "text-to-image"])
        index = PaperIndex.build(by_position.values())
        position_of = {paper.pk: position for position, paper in by_position.items()}
        yield index, by_position, position_of


def positions(index, interest, position_of, **options) -> list[int]:
    return [position_of[m.paper.pk] for m in index.match(interest, **options)]


def test_a_keyword_is_read_in_the_field_of_the_readers_other_keywords(embedded):
    # "agents" alone is also the agents of active-inference models of objects; beside
    # "LLM agents" or "code generation" a reader means language-model agents, beside
    # "robotics" the embodied ones. (The learned decision weighs each paper's closeness
    # to the nearest of the reader's other keywords.)
    index, _, position_of = embedded
    embed_keywords(["agents", "LLM agents", "code generation", "robotics"])
    active_inference = 139  # "Disentangling Shape and Pose for Object-Centric Deep Active Inference Models"
    o1_reasoning = 21  # "A Comparative Study on Reasoning Patterns of OpenAI's o1 Model" (its agents)
    alone = positions(index, Interest(keywords=("agents",), include_featured=False), position_of)
    assert {active_inference, o1_reasoning} <= set(alone)
    for other in ("LLM agents", "code generation"):
        beside = positions(index, Interest(keywords=("agents", other), include_featured=False), position_of)
        assert active_inference not in beside and o1_reasoning in beside
    # "robotics" finds nothing of its own in the sample: the paper stays for its field.
    assert positions(index, Interest(keywords=("robotics",), include_featured=False), position_of) == []
    beside_robotics = positions(index, Interest(keywords=("agents", "robotics"), include_featured=False), position_of)
    assert active_inference in beside_robotics
    # What the decision is fitted on reads the same other keywords.
    alone_rows = index.keyword_evidence("agents").rows
    beside_rows = index.keyword_evidence("agents", others=("agents", "LLM agents")).rows
    column = decision.FEATURES.index("field")
    assert (alone_rows[:, column] == alone_rows[:, decision.FEATURES.index("closeness")]).all()
    assert (beside_rows[:, column] != alone_rows[:, column]).any()


def test_the_trees_part_of_a_keyword_is_worked_out_once_for_all_its_readers(embedded, monkeypatch):
    # The decision's trees never read the reader's field, so a keyword's candidates are
    # run through them once, however many readers type it beside other keywords; each
    # reader's chances still differ by their field (the weights' part).
    index, _, position_of = embedded
    embed_keywords(["diffusion models", "video generation", "image editing", "model compression"])
    read = []
    trees_of = decision.Decision.tree_logits

    def counted(self, rows):
        read.append(len(rows))
        return trees_of(self, rows)

    monkeypatch.setattr(decision.Decision, "tree_logits", counted)
    readers = [("diffusion models", "video generation"), ("diffusion models", "image editing"), ("diffusion models",)]
    for keywords in readers:
        index.match(Interest(keywords=keywords, include_featured=False))
    once = len(read)
    assert once >= 1
    for keywords in readers:  # and again: nothing new to run through the trees
        index.match(Interest(keywords=keywords, include_featured=False))
    assert len(read) == once
    chances = [
        index.keyword_evidence("diffusion models", others=keywords).decide(index.keyword_decision)[1]
        for keywords in readers
    ]
    assert len(read) == once
    assert not np.allclose(chances[0], chances[1])  # their fields differ
    # What a reader gets is the whole decision: weights and trees as fitted together.
    evidence = index.keyword_evidence("diffusion models", others=readers[0])
    monkeypatch.undo()
    np.testing.assert_allclose(chances[0], index.keyword_decision.probabilities(evidence.rows))


def test_a_paper_is_weighed_by_how_like_it_is_to_the_usual_papers_that_clearly_write_the_keyword(embedded):
    # A short keyword is a poor query for the model; the papers that clearly write it say
    # what it means. Papers about quantization stand close to the others; a code model's
    # report that writes it once, about its released weights, does not.
    index, by_position, position_of = embedded
    embed_keywords(["quantization", "RLHF", "jailbreaks"])
    column, known = decision.FEATURES.index("like_clear"), decision.FEATURES.index("like_clear_known")

    def rows_of(keyword: str, in_index: PaperIndex = index) -> dict[int, np.ndarray]:
        evidence = in_index.keyword_evidence(keyword)
        return {position_of[in_index.papers[i].pk]: row for i, row in zip(evidence.papers, evidence.rows)}

    like = {position: row[column] for position, row in rows_of("quantization").items()}
    q_bert, zeroquant, decouple_q, stable_code = 141, 184, 13, 195
    assert min(like[q_bert], like[zeroquant], like[decouple_q]) > like[stable_code] + 1.0
    # It decides: BlueLM-V-3B (191), an on-device multimodal model that mentions jailbreaks
    # in passing, would match "jailbreaks" with the same weights if it were not so unlike
    # the papers that write it.
    decide = index.keyword_decision
    row = rows_of("jailbreaks")[191]
    unknown = row.copy()
    unknown[[column, known]] = 0.0
    assert decide.probabilities(row[None])[0] < decide.threshold < decide.probabilities(unknown[None])[0]
    # One paper alone writes "RLHF" clearly: it has no others to be compared with (its own
    # vector would make it look like itself), the papers that do not write it have it.
    rows = rows_of("RLHF")
    clear = [p for p, row in rows.items() if row[decision.FEATURES.index("clear")]]
    assert len(clear) == 1
    assert rows[clear[0]][known] == 0 and rows[clear[0]][column] == 0
    assert all(row[known] == 1 for p, row in rows.items() if p not in clear)
    # The usual papers, not the index's: a paper reads the same in a run's index of any
    # other papers (a reader's matches must not depend on whose papers a run indexes).
    half = PaperIndex(
        [paper for position, paper in by_position.items() if position % 3 != 0 or position == q_bert],
        index.stats,
        index.semantic,
    )
    assert rows_of("quantization", half)[q_bert][column] == rows_of("quantization")[q_bert][column]
    assert rows_of("quantization", half)[q_bert][known] == 1
    # ... and the usual papers are indexed for their words once, for every index of them.
    assert half._usual_papers() is index._usual_papers() is not None


def test_reference_papers_must_be_the_reference_vectors_papers(embedded):
    # Row for row: papers that are not the vectors' would make every paper unlike the
    # wrong ones, silently.
    index, _, _ = embedded
    context = index.semantic
    with pytest.raises(ValueError, match="reference papers for"):
        SemanticContext([], context.reference, context.keyword_vector, reference_papers=context.reference_papers[1:])


def test_a_readers_likeliest_paper_is_the_likeliest_in_their_field(embedded):
    # When every match was sent before, a keyword still brings its likeliest other paper:
    # likeliest as the decision weighs it in this reader's field, as training weighs it.
    # ("agents" alone would bring the paper on active-inference models of objects first;
    # beside "code generation", a language-model paper comes first.)
    index, _, position_of = embedded
    reader = ("agents", "code generation")
    embed_keywords(reader)
    interest = Interest(keywords=reader, include_featured=False)
    sent = {m.paper.pk for m in index.match(interest)}
    likeliest = {}
    for others in ((), reader):
        evidence = index.keyword_evidence("agents", others=others)
        _, chances = evidence.decide(index.keyword_decision, fallback=False)
        ranked = sorted(zip(chances.tolist(), evidence.papers), reverse=True)
        likeliest[others] = next(index.papers[i].pk for c, i in ranked if index.papers[i].pk not in sent)
    assert likeliest[()] != likeliest[reader]  # the field changes which comes first
    given = {m.paper.pk for m in index.match(interest, exclude_ids=sent)}
    assert likeliest[reader] in given and likeliest[()] not in given


def test_a_keyword_read_by_its_words_finds_the_same_when_the_caches_fill(embedded, monkeypatch):
    # A keyword with no vector yet is read by its words alone; when the index's caches
    # fill and let entries go, the next reader still gets its papers.
    from digest import matching

    index, _, position_of = embedded
    words_only = Interest(keywords=("attention heads",), include_featured=False)
    assert index.keyword_meaning("attention heads") is None  # never embedded here
    first = positions(index, words_only, position_of)
    assert first
    monkeypatch.setattr(matching, "CLAUSE_CACHE_LIMIT", 1)
    for other in ("speech", "attention heads", "graph", "attention heads"):
        index.match(Interest(keywords=(other,), include_featured=False))
        assert positions(index, words_only, position_of) == first


def test_a_keyword_is_narrowed_within_what_it_finds_in_the_same_field(embedded):
    # A reader who removed a keyword's related terms keeps only papers the keyword finds
    # with them, for a reader of the same other keywords.
    index, _, position_of = embedded
    reader = ("model compression", "speech recognition")
    embed_keywords(reader)
    with_terms = Interest(keywords=reader, include_featured=False)
    without = Interest(keywords=reader, include_featured=False, without_related=("model compression",))
    alone = Interest(keywords=("model compression",), include_featured=False)
    found_with = set(positions(index, with_terms, position_of))
    assert set(positions(index, without, position_of)) <= found_with
    assert 13 in positions(index, alone, position_of)  # DecoupleQ: "quantization", no "compression"
    assert 13 not in positions(index, without, position_of)


def test_a_keyword_that_names_a_topic_also_matches_through_it(embedded):
    index, _, position_of = embedded
    assert index.expansion_topic("LLM agents").slug == "agents"
    assert index.expansion_topic("code LLMs").slug == "code-generation"
    matches = index.match(Interest(keywords=("code LLMs",), include_featured=False))
    by_position = {position_of[m.paper.pk]: m for m in matches}
    # CodeGen2 never writes "code LLM(s)": it comes in through the Code generation topic,
    # and says so.
    assert 91 in by_position
    assert by_position[91].reasons[0].startswith("'code LLMs' → topic Code generation")
    assert 195 in by_position  # Stable Code, through the topic's phrases
    removed = Interest(keywords=("code LLMs",), unexpanded=("code llms",), include_featured=False)
    without_topic = {position_of[m.paper.pk]: m for m in index.match(removed)}
    # Without the topic, what only its phrases found goes; CodeGen2 stays, found by a
    # related term of the keyword itself (digest/data/related_terms.txt), which says so.
    assert 195 not in without_topic
    assert without_topic[91].reasons[0] == "keyword 'code LLMs': 'CodeGen' in title"


def test_a_keyword_narrower_than_its_topic_takes_only_the_topic_papers_that_write_its_own_words(embedded):
    # "diffusion editing" is closest to Diffusion models, whose sixteen papers used to come
    # in through the topic (PixArt-Sigma, a video diffusion model, ...): only those that
    # also write "editing" are the reader's.
    index, _, position_of = embedded
    embed_keywords(["diffusion editing"])
    assert index.expansion_topic("diffusion editing").slug == "diffusion-models"
    matches = [
        position_of[m.paper.pk] for m in index.match(Interest(keywords=("diffusion editing",), include_featured=False))
    ]
    assert 185 in matches  # FastEdit: text-guided editing with a diffusion model
    assert not {192, 79, 94, 133} & set(matches)  # PixArt-Sigma, UniAnimate, 3D morphing, voice conversion


def test_the_demo_digests_show_a_match_the_words_alone_miss(embedded):
    # What `make demo` shows a newcomer: among the demo readers' digests, a paper found by
    # meaning or through a topic a keyword names, which its why-line says.
    from digest.management.commands.seed_demo_subscribers import DEMO_SUBSCRIBERS

    index, _, _ = embedded
    topics = {t.slug: TopicTerms.from_topic(t) for t in Topic.objects.all()}
    embed_keywords([k for s in DEMO_SUBSCRIBERS for k in s.get("keywords", ())])
    reasons = [
        reason
        for s in DEMO_SUBSCRIBERS
        for m in index.match(
            Interest(
                topics=tuple(topics[slug] for slug in s["topics"]),
                keywords=tuple(s.get("keywords", ())),
                include_featured=False,
            ),
            limit=s.get("max_papers", 10),
        )
        for reason in m.reasons
    ]
    assert any("→ topic" in r or "close in meaning" in r for r in reasons)


def test_a_keyword_the_curators_list_under_two_topics_expands_to_neither(embedded):
    # "RLHF" is a phrase of both Reinforcement learning and AI safety and alignment; its
    # vector sits nearer the first, whose bandit papers a reader of preference tuning
    # does not want.
    index, _, position_of = embedded
    embed_keywords(["rlhf", '"RLHF"'])
    for spelling in ("RLHF", "rlhf", '"RLHF"'):  # however the reader capitalises or quotes it
        assert index.expansion_topic(spelling) is None, spelling
    found = positions(index, Interest(keywords=("RLHF",), include_featured=False), position_of)
    assert not {41, 43} & set(found)  # the two bandit papers of the sample


@pytest.mark.parametrize(
    "spellings",
    [("fine-tuning", "finetuning", "fine tuning"), ("pre-training", "pretraining", "pre training")],
    ids=["fine-tuning", "pre-training"],
)
def test_a_keyword_finds_the_same_papers_however_its_compound_is_spelled(embedded, spellings):
    # The words matched alike before; the model read "finetuning" as odd word pieces, and
    # the glued form counted its papers twice, so "finetuning" got 6 papers, "fine-tuning" 15.
    index, _, position_of = embedded
    embed_keywords(spellings)
    found = [positions(index, Interest(keywords=(k,), include_featured=False), position_of) for k in spellings]
    assert found[0] and found[1] == found[0] and found[2] == found[0]


def test_a_reader_can_remove_the_topic_a_keyword_suggests(embedded):
    # Removing it takes the topic's papers away and keeps what the words find.
    # ("LLM agents" served here while the decision's threshold was 0.45; with its topic
    # removed it now finds nothing its words alone make likely enough.)
    index, _, position_of = embedded
    keyword = "privacy and security"
    embed_keywords([keyword])  # as saving it does: its topic is read from its vector
    assert index.expansion_topic(keyword) is not None
    expanded = positions(index, Interest(keywords=(keyword,), include_featured=False), position_of)
    as_typed = positions(
        index, Interest(keywords=(keyword,), unexpanded=(keyword,), include_featured=False), position_of
    )
    assert as_typed and set(as_typed) < set(expanded)


def test_a_removed_topic_takes_the_likeliest_paper_away_only_with_the_topic(embedded):
    # A keyword that would find nothing gets its likeliest paper; once the reader removed
    # its topic, only if the keyword with the topic found that paper. A keyword that
    # suggests no topic ("RLHF" here) keeps its likeliest paper whatever is listed as
    # removed: the list outlives what a keyword suggests as the catalog grows.
    index, _, position_of = embedded
    assert index.expansion_topic("RLHF") is None
    plain = positions(index, Interest(keywords=("RLHF",), include_featured=False), position_of)
    listed = positions(index, Interest(keywords=("RLHF",), unexpanded=("rlhf",), include_featured=False), position_of)
    assert plain and listed == plain


@pytest.mark.parametrize("keyword", ["LLM agents", "code LLMs", "RLHF", "data curation", "privacy and security"])
def test_removing_the_suggested_topic_never_adds_a_paper(embedded, keyword):
    # The topic a keyword names also says how much its own words tell; removing the
    # topic takes its phrases' papers away and must not loosen the keyword's own bar.
    index, _, position_of = embedded
    embed_keywords([keyword])
    expanded = set(positions(index, Interest(keywords=(keyword,), include_featured=False), position_of))
    removed = Interest(keywords=(keyword,), unexpanded=(keyword.lower(),), include_featured=False)
    assert set(positions(index, removed, position_of)) <= expanded


@pytest.mark.parametrize("keyword", ["LLM agents", "code LLMs", "text-to-image", "jailbreaks", "RLHF"])
def test_matching_takes_a_keyword_as_the_decision_fitted_on_its_evidence_does(embedded, keyword):
    # train_matching fits the decision on keyword_evidence; matching must apply it to
    # the very same rows, or the fitted weights would be judged on other numbers. (A
    # keyword the decision takes no paper for gets its likeliest one per reader, among
    # the papers that reader can get: `_Clause.near_misses`, tested on its own.)
    index, _, _ = embedded
    evidence = index.keyword_evidence(keyword)
    passes, _ = evidence.decide(index.keyword_decision, fallback=False)
    assert index._keyword(keyword).passing == {idx for idx, ok in zip(evidence.papers, passes, strict=True) if ok}


def test_a_paper_not_embedded_yet_is_matched_by_its_words(embedded):
    # Imported while embedding was off or failed: closeness says nothing about it (its
    # vector is zeros), so the keyword's words decide, as without the model.
    index, by_position, position_of = embedded
    papers = [copy.copy(p) for p in by_position.values()]
    for paper in papers:
        if position_of[paper.pk] in (3, 65, 117):
            paper.embedding = None
    partial = PaperIndex(papers, index.stats, index.semantic)
    lexical = PaperIndex(papers, index.stats)
    for keyword, position in (("text-to-image", 65), ("text-to-image", 117), ("jailbreaks", 3)):
        assert position in positions(lexical, Interest(keywords=(keyword,), include_featured=False), position_of)
        assert position in positions(partial, Interest(keywords=(keyword,), include_featured=False), position_of)


def test_a_keyword_that_finds_no_candidate_in_the_day_matches_nothing(embedded):
    # A day's index holds a few papers, none of which writes the keyword or is near it:
    # the decision has nothing to weigh, and the reader simply gets no match from it.
    index, by_position, _ = embedded
    unrelated = [
        paper for paper in by_position.values() if "federated" not in f"{paper.title} {paper.abstract}".lower()
    ][:5]
    day = PaperIndex.build(unrelated)
    assert day.keyword_evidence("federated learning").papers == []
    found = day.match(Interest(keywords=("federated learning",), include_featured=False))
    assert list(found) == [] and found.in_passing == []


def test_a_keyword_whose_matches_a_reader_cannot_get_gives_them_its_likeliest_near_miss(embedded):
    # "instruction tuning" matches InvestLM (4) and "How Abilities in LLMs are Affected by
    # SFT Data Composition" (110); the decision nearly took others. A reader who was sent
    # every match already gets the likeliest near miss they can get; one who was not gets
    # the matches alone.
    index, by_position, position_of = embedded
    embed_keywords(["instruction tuning"])
    interest = Interest(keywords=("instruction tuning",), include_featured=False)
    matched = positions(index, interest, position_of)
    assert {4, 110} <= set(matched)
    near = [position_of[index.papers[idx].pk] for idx, _ in index._keyword("instruction tuning").near_misses]
    assert len(near) >= 2 and not set(near) & set(matched)
    sent = {by_position[p].pk for p in matched}
    [found] = index.match(interest, exclude_ids=sent)
    assert position_of[found.paper.pk] == near[0]
    assert found.reasons and "instruction tuning" in found.reasons[0]
    # Without it, the next near miss, if there is one: never more than one a day.
    assert positions(index, interest, position_of, exclude_ids=sent | {by_position[near[0]].pk}) == near[1:2]
    # Matching the same keyword for another reader afterwards is not changed by it.
    assert positions(index, interest, position_of) == matched


def test_a_young_catalog_without_a_reference_sample_still_expands_keywords(embedded):
    # Fewer than 200 embedded papers say nothing of what is usual: no z-scores, so no
    # decision; the keyword's own words and the topic it names still match.
    index, _, position_of = embedded
    young = SemanticContext(
        [TopicVector(t, index.semantic.topic_matrix[n]) for n, t in enumerate(index.semantic.topics.values())],
        index.semantic.reference[:50],
        index.semantic.keyword_vector,
    )
    small = PaperIndex(index.papers, index.stats, young)
    matches = small.match(Interest(keywords=("code LLMs",), include_featured=False))
    assert small.keyword_evidence("code LLMs") is None
    assert any(r.startswith("'code LLMs' → topic Code generation") for m in matches for r in m.reasons)


def test_a_paper_that_says_it_in_other_words_matches_and_says_which(embedded):
    # decoupleQ (13), a 2-bit post-training quantization method, never writes "model
    # compression"; "quantization" is one of its related terms (digest/data/related_terms.txt),
    # and the decision takes it with the paper's closeness in meaning. The why-line names
    # the word the paper used.
    index, _, position_of = embedded
    embed_keywords(["model compression"])
    interest = Interest(keywords=("model compression",), include_featured=False)
    matches = {position_of[m.paper.pk]: m for m in index.match(interest)}
    assert 13 in matches
    assert matches[13].reasons[0] == "keyword 'model compression': 'quantization' in title"
    # Words alone do not read related terms: the lexical matcher keeps to the reader's own.
    assert 13 not in positions(PaperIndex(index.papers, index.stats), interest, position_of)
    # Nor does a keyword in quotes: the reader asked for their words as written.
    embed_keywords(['"model compression"'])
    quoted = Interest(keywords=('"model compression"',), include_featured=False)
    assert 13 not in positions(index, quoted, position_of)


@pytest.mark.parametrize(
    "keyword", ["image editing", "3D generation", "model compression", "LLM agents", "code LLMs", "object detection"]
)
def test_a_related_term_is_found_only_as_written_and_the_why_line_names_it(embedded, keyword):
    # Names are not stemmed into common words: "Imagic" (an editing method) is not
    # "image", "Point-E" is not "point". Whatever related term a why-line names, the
    # paper writes it.
    import re

    from digest.keywords import related_terms

    index, _, _ = embedded
    embed_keywords([keyword])
    for match in index.match(Interest(keywords=(keyword,), include_featured=False)):
        said = re.match(r"keyword '.+?': '(.+?)' in ", match.reasons[0])
        if said and said.group(1) in related_terms(keyword):
            text = f"{match.paper.title} {match.paper.abstract}".lower()
            assert said.group(1).lower() in text, (keyword, said.group(1), match.paper.title)


def test_a_title_that_writes_a_common_keyword_does_not_match_by_that_alone(embedded):
    # "model" is in every title and abstract: the title rule is for keywords few papers
    # write; for this one the weights decide, and they take next to nothing. "efficient"
    # is in 31 of the 202 titles: the weights take a few of those, the papers about
    # efficiency ("Parameter-efficient Tuning", "Efficient Generative Inference").
    index, _, _ = embedded
    embed_keywords(["model", "efficient"])
    assert len(index.match(Interest(keywords=("model",), include_featured=False))) <= 2
    titled = [p for p in index.papers if "efficient" in p.title.lower()]
    assert len(titled) == 31
    assert len(index.match(Interest(keywords=("efficient",), include_featured=False))) <= len(titled) // 6


def test_a_title_that_writes_the_keyword_always_matches(embedded):
    # Vocabulary trimming (8) is not much closer in meaning to "model compression" than
    # the usual paper (z about 1.1), and the decision's weights alone put it just below
    # their threshold; but its title says "Language Model Compression".
    index, _, position_of = embedded
    embed_keywords(["model compression"])
    matches = {
        position_of[m.paper.pk]: m
        for m in index.match(Interest(keywords=("model compression",), include_featured=False))
    }
    assert matches[8].reasons[0] == "keyword 'model compression' in title"


def test_a_nonsense_keyword_maps_to_nothing_and_matches_nothing(embedded):
    index, _, position_of = embedded
    assert index.expansion_topic("zxqv blorft") is None
    assert positions(index, Interest(keywords=("zxqv blorft",), include_featured=False), position_of) == []


def test_a_keyword_the_catalog_writes_often_keeps_to_its_own_words(embedded):
    # "LoRA" is close to the PEFT topic, but a dozen papers write it: it finds them by
    # itself, and all of PEFT is not what the reader asked for.
    index, _, _ = embedded
    assert index.expansion_topic("LoRA") is None
    # Unless the reader typed the topic's very name.
    assert index.expansion_topic("efficient inference").slug == "efficient-inference"


def test_a_lone_mention_in_a_paper_about_something_else_is_listed_in_passing_not_matched(embedded):
    index, _, position_of = embedded
    matches = index.match(Interest(keywords=("text-to-image",), include_featured=False))
    found = [position_of[m.paper.pk] for m in matches]
    # eDiff-I is a text-to-image model; paper 6 (one sparse model for text, sound, image
    # and video) names text-to-image once among its tasks.
    assert 31 in found
    assert 6 not in found
    # Ranked below the matches, not dropped: the digest's web page lists it "in passing".
    in_passing = {position_of[pk]: keyword for pk, keyword in matches.in_passing}
    assert in_passing.get(6) == "text-to-image"
    assert not set(in_passing) & set(found)
    lexical = PaperIndex(index.papers, index.stats)
    assert 6 in positions(lexical, Interest(keywords=("text-to-image",), include_featured=False), position_of)


def test_papers_close_in_meaning_to_a_topic_match_it_with_a_reason(embedded):
    index, _, position_of = embedded
    topic = next(t for t in index.semantic.topics.values() if t.slug == "robotics")
    matches = index.match(Interest(topics=(topic,), include_featured=False))
    close = [m for m in matches if any("close in meaning" in r for r in m.reasons)]
    lexical = PaperIndex(index.papers, index.stats).match(Interest(topics=(topic,), include_featured=False))
    assert len(matches) >= len(lexical)
    assert all(m.paper.pk not in {x.paper.pk for x in lexical} for m in close)


def test_a_topic_takes_the_papers_its_learned_decision_takes_not_only_those_its_phrases_pass(embedded):
    # Every reader who judged these topics called the first papers relevant and the last
    # not; the rule (phrases passing, or very close in meaning) got them the other way.
    index, _, position_of = embedded
    topics = {t.slug: t for t in index.semantic.topics.values()}
    lexical = PaperIndex(index.papers, index.stats)  # as on a machine without the model

    def found(slug: str, in_index: PaperIndex = index) -> dict[int, list[str]]:
        matches = in_index.match(Interest(topics=(topics[slug],), include_featured=False), limit=100)
        return {position_of[m.paper.pk]: m.reasons for m in matches}

    hallucination_probing = 175  # "Distinguishing Ignorance from Error in LLM Hallucinations"
    portllm, domain_prompts = 25, 137  # LoRA for evolving LLMs; visual prompt learning
    interpretability, peft = found("interpretability"), found("peft")
    assert hallucination_probing in interpretability and {portllm, domain_prompts} <= peft.keys()
    # Named by the phrase that was written, though once it was not enough.
    assert any("'probing' in abstract" in reason for reason in interpretability[hallucination_probing])
    # The rule took these; they mention the topic's phrases in passing.
    active_inference = 139  # object-centric active-inference models, for Agents and tool use
    energy_backbone, slicegpt = 73, 83  # an efficient vision backbone, LLM compression: not Training systems
    assert active_inference not in found("agents")
    assert not {energy_backbone, slicegpt} & found("training-systems").keys()
    # Without vectors the rule decides, as before.
    assert hallucination_probing not in found("interpretability", lexical)
    assert {energy_backbone, slicegpt} <= found("training-systems", lexical).keys()
    # A typed keyword's topic is still read by the rule: the keyword decision was fitted on it.
    assert index._topic_rule(topics["agents"]).passing != index._topic(topics["agents"]).passing


def test_a_topic_with_no_phrases_is_matched_by_its_meaning_as_before(embedded):
    # A curator's new topic with a name and description only: the decision was fitted on
    # topics whose phrases the usual papers write, and would take nearly nothing here.
    index, _, position_of = embedded
    speech = next(t for t in index.semantic.topics.values() if t.slug == "speech-audio")
    bare = TopicTerms(speech.slug, speech.name, ())
    assert index.topic_evidence(bare) is None
    matches = index.match(Interest(topics=(bare,), include_featured=False), limit=100)
    assert matches and all(any("close in meaning" in r for r in m.reasons) for m in matches)
    assert {m.paper.pk for m in matches} == {index.papers[i].pk for i in index._topic_rule(bare).passing}


def test_without_stored_vectors_matching_is_lexical(embedded):
    index, _, position_of = embedded
    lexical = PaperIndex(index.papers, index.stats)  # as on a machine without the model
    assert lexical.expansion_topic("LLM agents") is None
    interest = Interest(keywords=("LLM agents",), include_featured=False)
    found = lexical.match(interest)
    # Only the reader's words, read loosely ("agents" near "LLMs"); no topic, no meaning.
    assert found and not any("→ topic" in r or "close in meaning" in r for m in found for r in m.reasons)
    # Nothing of the model is read: no meaning for the keyword, no evidence to decide on.
    assert lexical.keyword_meaning("LLM agents") is None and lexical.keyword_evidence("LLM agents") is None


def test_liking_papers_raises_similar_ones_and_disliking_drops_near_duplicates(embedded):
    index, by_position, position_of = embedded
    topic = next(t for t in index.semantic.topics.values() if t.slug == "peft")
    interest = Interest(topics=(topic,), include_featured=False)
    before = positions(index, interest, position_of)
    # A reader who liked two LoRA papers and disliked a prompt-tuning one.
    liked, disliked = [by_position[75], by_position[86]], [by_position[24]]
    feedback = Feedback.from_votes(
        [(p.pk, 1, p.embedding) for p in liked] + [(p.pk, -1, p.embedding) for p in disliked]
    )
    voted = {p.pk for p in liked + disliked}
    after_matches = index.match(Interest(topics=(topic,), include_featured=False, feedback=feedback), exclude_ids=voted)
    after = [position_of[m.paper.pk] for m in after_matches]
    before = [p for p in before if by_position[p].pk not in voted]
    assert after != before
    lora_papers = {25, 28, 85, 95, 119, 129, 171, 185}  # the sample's other LoRA papers
    assert len(lora_papers & set(after[:8])) > len(lora_papers & set(before[:8]))
    assert any('like papers you marked "more like this"' in m.reasons for m in after_matches)


def test_planning_and_sending_digests_never_load_the_model(tmp_path):
    # What a send worker does, in a process of its own: read stored vectors, never embed
    # (a keyword saved while the model was off simply has no vector).
    script = """
import os, django
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'digest.settings')
django.setup()
from django.core.management import call_command
from digest import decision, semantic
from subscriptions.models import Subscriber
from django.utils import timezone
call_command('migrate', verbosity=0)
call_command('import_papers', 'digest/sample_data/daily_papers_listing.txt', verbosity=0)
semantic._embedder = None  # forget the importer's model: from here on, a worker
Subscriber.objects.create(email='w@example.org', status='active', keywords=['LLM agents', 'unsaved keyword'],
                          confirmed_at=timezone.now())
call_command('send_digests', '--inline', '--now', verbosity=0)
import glob
print(len(glob.glob(os.environ['VAR_DIR'] + '/outbox/*.eml')), semantic._embedder is None)
"""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "EMAIL_HOST"}}
    env["VAR_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["1", "True"]


@pytest.mark.parametrize("days_off", [-365, 365 * 40], ids=["back-filled", "mis-dated-into-the-future"])
def test_a_back_filled_import_does_not_change_which_of_todays_papers_match(embedded, days_off):
    """What is "usual" for a keyword is taken over the latest listing days, not over the
    papers stored last: a curator's import of old papers (here hundreds of near-copies of
    one paper, listed a year ago) leaves today's matches as they were."""
    from django.db import transaction

    from tests.digest.matching_sample import SAMPLE_DAY

    index, by_position, position_of = embedded
    interests = [
        Interest(keywords=("LLM agents",), include_featured=False),
        Interest(keywords=("data curation",), include_featured=False),
        Interest(keywords=("jailbreaks",), include_featured=False),
    ]

    # Word statistics over the same papers both times: this is about closeness in meaning.
    stats = CatalogStats.from_papers(by_position.values())

    def found() -> list[list[int]]:
        today = PaperIndex.build(by_position.values(), stats)
        return [sorted(positions(today, interest, position_of)) for interest in interests]

    before = found()
    assert any(before)
    base = semantic.from_bytes(by_position[0].embedding)
    rng = np.random.default_rng(0)
    with transaction.atomic():
        Paper.objects.bulk_create(
            Paper(
                title=f"An old paper, number {n}",
                abstract="Fine abstract about speech synthesis.",
                listed_on=SAMPLE_DAY + dt.timedelta(days=days_off),
                embedding=semantic.to_bytes(semantic.normalise(base + 0.01 * rng.standard_normal(base.shape))),
            )
            for n in range(len(by_position))
        )
        assert found() == before
        transaction.set_rollback(True)


def test_preview_digest_reads_a_keyword_no_reader_saved_as_a_reader_who_saved_it_would_get(embedded):
    # The operator's preview goes through the real send's code; a keyword with no stored
    # vector was matched by its words alone there, unlike in any reader's digest.
    import json

    from digest.models import EmbeddedKeyword
    from tests.digest.matching_sample import SAMPLE_DAY

    index, _, _ = embedded
    keyword = "scientific machine learning"
    EmbeddedKeyword.objects.filter(key=semantic.keyword_key(keyword)).delete()  # no reader saved it
    out, err = StringIO(), StringIO()
    call_command(
        "preview_digest",
        "--keywords",
        keyword,
        "--all",
        "--json",
        "--date",
        SAMPLE_DAY.isoformat(),
        stdout=out,
        stderr=err,
    )
    assert "Embedded 1 keyword no reader had saved yet." in err.getvalue()
    previewed = [item["title"] for item in json.loads(out.getvalue())["papers"]]

    with_meaning = index.match(Interest(keywords=(keyword,), include_featured=False))
    by_words = PaperIndex(index.papers, index.stats).match(Interest(keywords=(keyword,), include_featured=False))
    assert [m.paper.title for m in with_meaning] != [m.paper.title for m in by_words]  # the case this is about
    assert previewed == [m.paper.title for m in with_meaning]


def test_a_paper_is_filed_under_the_interest_its_title_names_before_a_rarer_word_in_its_abstract(embedded):
    # The first reason names the paper's section in the email: MemControl, on
    # memorization in diffusion models, mentions privacy once; "privacy" is the rarer
    # word, but the paper belongs with the reader's diffusion papers (which got no
    # section of their own in a ten-interest reader's digest).
    index, by_position, _ = embedded
    embed_keywords(["privacy and security", "diffusion models"])
    memcontrol = next(p for p in by_position.values() if p.title.startswith("MemControl"))
    matches = index.match(Interest(keywords=("privacy and security", "diffusion models"), include_featured=False))
    [paper] = [m for m in matches if m.paper.pk == memcontrol.pk]
    assert paper.reasons[0].startswith("keyword 'diffusion models' in title")
    assert paper.reasons[1].startswith("keyword 'privacy and security'")
    # ... and the email's section follows, when a topic the reader follows matches too
    # (Healthcare, on one "medical" in the abstract).
    from digest.digest_email import Entry, entry_tag

    healthcare = TopicTerms.from_topic(Topic.objects.get(slug="healthcare"))
    with_topic = index.match(Interest(topics=(healthcare,), keywords=("diffusion models",), include_featured=False))
    [paper] = [m for m in with_topic if m.paper.pk == memcontrol.pk]
    assert any(reason.startswith("topic Healthcare") for reason in paper.reasons)
    assert entry_tag(Entry.from_match(paper, rank=1)) == "diffusion models"


def test_a_reader_can_remove_the_related_terms_a_keyword_is_matched_through(embedded):
    # The signup and manage pages list the related terms a keyword is read with; a reader
    # who removes them keeps what the keyword's own words, topic and meaning find.
    index, _, position_of = embedded
    embed_keywords(["model compression"])
    shown = index.related_terms_read("model compression")
    assert {"quantization", "pruning", "knowledge distillation"} <= set(shown)
    assert index.related_terms_read('"model compression"') == ()  # as written, nothing else
    assert PaperIndex(index.papers, index.stats).related_terms_read("model compression") == ()  # words alone
    kept = positions(index, Interest(keywords=("model compression",), include_featured=False), position_of)
    removed = Interest(keywords=("model compression",), without_related=("model compression",), include_featured=False)
    narrowed = positions(index, removed, position_of)
    assert 13 in kept and 13 not in narrowed  # decoupleQ writes "quantization", never "compression"
    assert narrowed and set(narrowed) < set(kept)


@pytest.mark.parametrize("keyword", ["LLM agents", "code LLMs", "RLHF", "data curation", "privacy and security"])
def test_removing_the_related_terms_never_adds_a_paper(embedded, keyword):
    index, _, position_of = embedded
    embed_keywords([keyword])
    kept = set(positions(index, Interest(keywords=(keyword,), include_featured=False), position_of))
    removed = Interest(keywords=(keyword,), without_related=(keyword.lower(),), include_featured=False)
    assert set(positions(index, removed, position_of)) <= kept


def test_a_reader_can_leave_out_one_related_term_and_keep_the_others(embedded):
    index, _, position_of = embedded
    embed_keywords(["model compression"])
    left_out = Interest(
        keywords=("model compression",), left_out_terms=(("Model Compression", "Quantization"),), include_featured=False
    )
    matches = {position_of[m.paper.pk]: m for m in index.match(left_out)}
    assert 13 not in matches  # decoupleQ wrote only "quantization"
    assert not any("'quantization'" in reason for m in matches.values() for reason in m.reasons)
    kept = set(positions(index, Interest(keywords=("model compression",), include_featured=False), position_of))
    assert set(matches) < kept
    # Leaving one out is not removing them all: what the other terms find stays.
    none = Interest(keywords=("model compression",), without_related=("model compression",), include_featured=False)
    assert set(positions(index, none, position_of)) <= set(matches)
    agents = Interest(keywords=("LLM agents",), include_featured=False)
    embed_keywords(["LLM agents"])
    by_tool_use = {
        position_of[m.paper.pk]
        for m in index.match(agents)
        if m.reasons[0] == "keyword 'LLM agents': 'tool use' in abstract"
    }
    without_react = Interest(
        keywords=("LLM agents",), left_out_terms=(("LLM agents", "ReAct"),), include_featured=False
    )
    assert by_tool_use <= set(positions(index, without_react, position_of))
    # As the digests read a subscriber's choices (planning builds the Interest so).
    from subscriptions.models import Subscriber

    reader = Subscriber(keywords=["model compression"], left_out_terms={"Model Compression": ["Quantization"]})
    assert 13 not in positions(index, Interest.from_subscriber(reader, topics=()), position_of)
    assert 13 in positions(
        index, Interest.from_subscriber(Subscriber(keywords=["model compression"]), topics=()), position_of
    )
