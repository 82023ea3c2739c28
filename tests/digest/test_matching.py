"""The matcher on small, hand-made papers: words, phrases, thresholds, ranking, authors,
exclusions, picks, and what it costs.

Document frequencies come from the sample listing (202 real abstracts), so "model" is as
common and "speculative decoding" as rare as they are in a real catalog."""

from __future__ import annotations

import datetime as dt
import random
from functools import lru_cache

import pytest

from digest.matching import (
    UPVOTE_MAX_BOOST,
    CatalogStats,
    Interest,
    PaperIndex,
    TopicTerms,
)
from digest.keywords import did_you_mean, embedding_text, understand
from digest.models import Paper
from digest.text import compile_phrase, stem
from tests.digest.matching_sample import sample_papers, sample_texts

DAY = dt.date(2025, 3, 12)
FILLER = (
    "We study this setting in detail and report experiments on several public benchmarks. "
    "Our method is simple to implement and improves over strong baselines. "
)


@lru_cache(maxsize=1)
def sample_stats() -> CatalogStats:
    return CatalogStats.from_texts(sample_texts())


def make(pk: int, title: str, abstract: str = FILLER, **fields) -> Paper:
    fields.setdefault("listed_on", DAY)
    return Paper(pk=pk, title=title, abstract=abstract, **fields)


def match(papers: list[Paper], interest: Interest | None = None, **options):
    interest = interest or Interest()
    return PaperIndex(papers, sample_stats()).match(interest, **options)


def titles(papers: list[Paper], interest: Interest | None = None, **options) -> list[str]:
    return [m.paper.title for m in match(papers, interest, **options)]


def keywords(*words: str, **fields) -> Interest:
    fields.setdefault("include_featured", False)
    return Interest(keywords=words, **fields)


QUANTIZATION = TopicTerms(
    slug="quantization", name="Quantization",
    phrases=("quantization", "quantized", "post-training quantization", "PTQ", "low-bit"),
)
LLM = TopicTerms(slug="large-language-models", name="Large language models", phrases=("large language model", "LLM"))


# Words and phrases.


def test_stemming_lets_plurals_and_inflections_match():
    papers = [make(1, "A diffusion model for protein design"), make(2, "Quantization of speech encoders")]
    assert titles(papers, keywords("diffusion models")) == ["A diffusion model for protein design"]
    assert titles(papers, keywords("quantized")) == ["Quantization of speech encoders"]


def test_a_phrase_matches_only_as_consecutive_words():
    papers = [make(1, "Experts disagree: a mixture of opinions from experts"), make(2, "A sparse mixture of experts")]
    assert titles(papers, keywords("mixture of experts")) == ["A sparse mixture of experts"]


def test_hyphenated_and_spaced_spellings_are_the_same_phrase():
    papers = [
        make(1, "Mixture-of-Experts layers at scale"),
        make(2, "Redteaming chat assistants"),
        make(3, "Red-teaming vision assistants"),
        make(4, "Red teaming speech assistants"),
    ]
    assert titles(papers, keywords("mixture of experts")) == ["Mixture-of-Experts layers at scale"]
    red_teaming = {"Redteaming chat assistants", "Red-teaming vision assistants", "Red teaming speech assistants"}
    assert set(titles(papers, keywords("red-teaming"))) == red_teaming
    # Typed without its space, it is also read with it, since the catalog writes it so.
    assert set(titles(papers, keywords("redteaming"))) == red_teaming
    assert set(titles(papers, keywords("red teaming"))) == red_teaming


def test_the_model_reads_a_compound_as_most_papers_spell_it():
    stats = CatalogStats.from_texts(
        [("Fine-tuning language models", "We study fine-tuning and pretraining."), ("Pretraining at scale", "")]
        + [("A benchmark for machine translation", "Machine translation quality, a new benchmark.")] * 3
        + [("Machine-translation systems", "")]
    )
    assert embedding_text("efficient finetuning", stats) == "efficient fine-tuning"
    assert embedding_text("fine tuning", stats) == "fine-tuning"
    assert embedding_text("pre-training data", stats) == "pretraining data"
    assert embedding_text("Machine-Translation", stats) == "Machine Translation"
    # A word the catalog writes whole stays whole, whatever it could be cut into.
    assert embedding_text("benchmark", stats) == "benchmark"
    assert embedding_text("RLHF", stats).startswith("RLHF (reinforcement learning")
    # Keyword vectors are shared by lower-case key: "LLMs" is read as "llms", and must
    # mean what "llm" means (it was the model's guess at "llms" alone).
    assert embedding_text("llms", stats) == "llms (large language model)"


def test_a_keyword_typed_glued_is_not_counted_twice_as_common():
    stats = CatalogStats.from_texts([("Fine-tuning language models", ""), ("Sorting numbers", "")])
    glued, split = (
        [compile_phrase(p) for p in understand(typed, stats)[1]] for typed in ("finetuning", "fine-tuning")
    )
    assert len(glued) == 2 and len(split) == 1  # "finetuning" is also read as "fine tuning"
    assert stats.keyword_share(glued) == stats.keyword_share(split) == 0.5


def test_quantization_does_not_match_quantum():
    quantum = make(1, "Quantum circuits for quantum chemistry", "Quantum computers simulate molecules. " * 3 + FILLER)
    quantized = make(2, "Quantization of vision transformers")
    assert titles([quantum, quantized], keywords("quantization")) == ["Quantization of vision transformers"]
    assert titles([quantum, quantized], Interest(topics=(QUANTIZATION,), include_featured=False)) == [quantized.title]
    assert titles([quantum, quantized], keywords("quantum")) == [quantum.title]


def test_abbreviations_match_whole_words_only():
    papers = [
        make(1, "The Moebius strip and Möbius bands", "Moebius bands are surfaces. " * 3),
        make(2, "Storage engines that rage against ragged arrays", "Storage rage ragged. " * 3),
        make(3, "Sparse MoE layers for speech"),
        make(4, "RAG for legal question answering"),
    ]
    assert titles(papers, keywords("MoE")) == ["Sparse MoE layers for speech"]
    assert titles(papers, keywords("RAG")) == ["RAG for legal question answering"]


def test_plural_abbreviations_match_the_abbreviation():
    assert titles([make(1, "Evaluating GNNs on chemistry")], keywords("GNN")) == ["Evaluating GNNs on chemistry"]


def test_accents_and_case_are_ignored():
    papers = [make(1, "Schrödinger bridges for generative modelling"), make(2, "SCHRODINGER BRIDGES REVISITED")]
    assert len(titles(papers, keywords("schrodinger bridge"))) == 2


def test_quoted_phrases_match_the_exact_words_so_adapter_is_not_adaptation():
    papers = [make(1, "Adapters for multilingual translation"), make(2, "Domain adaptation for translation")]
    assert titles(papers, keywords('"adapter"')) == ["Adapters for multilingual translation"]


def test_an_agent_noun_is_the_thing_not_the_act():
    # Snowball cuts "transformer" to "transform" and "retriever" to "retriev": a reader of
    # transformers does not want the papers that transform data.
    papers = [
        make(1, "Vision transformers at scale"),
        make(2, "Learned transformations of point sets"),
        make(3, "Adapters for multilingual translation"),
        make(4, "Domain adaptation for translation"),
        make(5, "A dense retriever for open-domain questions"),
        make(6, "Retrieval of legal documents"),
    ]
    assert titles(papers, keywords("transformer")) == ["Vision transformers at scale"]
    assert titles(papers, keywords("adapters")) == ["Adapters for multilingual translation"]
    assert titles(papers, keywords("domain adaptation")) == ["Domain adaptation for translation"]
    assert titles(papers, keywords("retriever")) == ["A dense retriever for open-domain questions"]
    # Verbs whose own "-er" the stemmer cuts still match their forms.
    considered = [make(7, "Tokens considered harmful")]
    assert titles(considered, keywords("consider")) == ["Tokens considered harmful"]


def test_a_quoted_abbreviation_matches_where_the_paper_writes_it():
    papers = [make(1, "Evicting the KV cache of long prompts"), make(2, "Caching key-value pairs in databases")]
    assert titles(papers, keywords('"KV cache"')) == ["Evicting the KV cache of long prompts"]
    moe = [make(3, "Sparse MoE layers for speech"), make(4, "Mixture of experts, revisited")]
    assert titles(moe, keywords('"MoE"')) == ["Sparse MoE layers for speech"]


def test_an_ize_word_matches_its_family_not_the_root_it_is_stemmed_to():
    # Snowball cuts "tokenization" to "token" and "normalization" to "normal": a reader
    # asking for tokenization does not want every paper that counts tokens.
    papers = [
        make(1, "A byte-level tokenizer for code"),
        make(2, "Long sequences of tokens in transformers"),
        make(3, "Tokenisation of morphologically rich languages"),
        make(4, "Layer normalization revisited"),
        make(5, "Normal priors for variational inference"),
    ]
    assert titles(papers, keywords("tokenization")) == [
        "A byte-level tokenizer for code", "Tokenisation of morphologically rich languages",
    ]
    assert titles(papers, keywords("normalization")) == ["Layer normalization revisited"]
    personal = [make(6, "Personalized text-to-image generation"), make(7, "Your personal data scientist")]
    assert titles(personal, keywords("personalization")) == ["Personalized text-to-image generation"]
    # The family still matches itself however it is inflected.
    assert titles(papers, keywords("tokenizers")) == titles(papers, keywords("tokenization"))


def test_an_abbreviation_that_spells_a_common_word_matches_only_as_written():
    zero_shot = [make(n, f"Zero-shot transfer for task {n}") for n in range(10, 16)]
    papers = [make(1, "ZeRO: memory optimizations toward training trillion parameter models"), *zero_shot]
    assert titles(papers, keywords("ZeRO")) == ["ZeRO: memory optimizations toward training trillion parameter models"]
    # Typed as a plain word, it is the plain word.
    assert len(titles(papers, keywords("zero-shot"))) == 6
    # Where the plain writing is not the commoner one, it is the same name.
    llamas = [make(1, "LLaMA: open and efficient foundation language models"), make(2, "Llama 2: open chat models")]
    assert len(titles(llamas, keywords("LLaMA"))) == 2


# The relevance threshold.


def test_one_mention_of_a_typed_keyword_is_enough_but_ranks_below_real_matches():
    # A reader who typed a keyword wants to hear of a paper that names it once; a paper
    # about it still comes first. A curated topic is broader and needs more evidence.
    incidental = make(1, "Faster sorting networks", FILLER + "Unlike quantization, our method keeps full precision. " + FILLER)
    about = make(2, "Quantization of speech encoders")
    assert titles([incidental, about], keywords("quantization")) == ["Quantization of speech encoders", "Faster sorting networks"]
    assert titles([incidental], Interest(topics=(QUANTIZATION,), include_featured=False)) == []


def test_a_mention_too_slight_to_match_is_kept_in_passing_below_the_matches():
    # One mention deep in an abstract three times the usual length: not enough to call the paper a match, but the
    # reader typed the word, so the paper is named (for the web page) rather than dropped.
    slight = make(1, "Faster sorting networks", FILLER * 24 + "Unlike quantization, our method keeps full precision. " + FILLER * 6)
    about = make(2, "Quantization of speech encoders")
    others = [make(pk, f"Unrelated study number {pk}") for pk in range(3, 7)]
    papers = [slight, about, *others]
    found = match(papers, keywords("quantization"))
    assert [m.paper.pk for m in found] == [2] and found.total == 1
    assert found.in_passing == [(1, "quantization")]
    # Not when the reader left it out, nor for a topic's phrases (a topic is not typed).
    assert match(papers, keywords("quantization", excluded=("sorting",))).in_passing == []
    assert match(papers, keywords("quantization"), exclude_ids={1}).in_passing == []
    assert match(papers, keywords("quantization"), listed_from=DAY + dt.timedelta(days=1)).in_passing == []
    assert match(papers, Interest(topics=(QUANTIZATION,), include_featured=False)).in_passing == []
    # Nor once the paper matches through another of the reader's interests.
    assert match(papers, keywords("quantization", "sorting networks")).in_passing == []


def test_a_featured_paper_that_is_not_a_pick_may_still_be_listed_in_passing():
    slight = FILLER * 24 + "Unlike quantization, our method keeps full precision. " + FILLER * 6
    pick = make(1, "Quantization of speech encoders", is_featured=True)
    other_featured = make(2, "Faster sorting networks", slight, is_featured=True)
    papers = [pick, other_featured, *(make(pk, f"Unrelated study number {pk}") for pk in range(3, 7))]
    found = PaperIndex(papers, sample_stats()).match(keywords("quantization", include_featured=True), picks=1)
    assert [(m.paper.pk, m.featured) for m in found] == [(1, True)]
    assert found.in_passing == [(2, "quantization")]


def test_a_mention_in_the_title_matches():
    assert titles([make(1, "Quantization of vision transformers")], keywords("quantization")) == ["Quantization of vision transformers"]


def test_repeated_mentions_in_the_abstract_match():
    abstract = (
        "We revisit quantization for speech models. Careful calibration matters a lot. "
        "With per-channel scales, quantization keeps accuracy on long utterances. "
        "Finally, quantization of the decoder is cheap at inference."
    )
    assert titles([make(1, "Better speech encoders", abstract)], keywords("quantization")) == ["Better speech encoders"]


def test_a_word_nearly_every_paper_uses_never_matches_however_often():
    common = make(1, "A model of models", "The model is a model that models the model of the model. " * 3)
    assert titles([common], keywords("model")) == []


def test_a_phrase_and_its_abbreviation_next_to_it_are_one_mention():
    topic = TopicTerms("moe", "Mixture of experts", ("mixture of experts", "MoE"))
    once = make(1, "Faster sorting networks", FILLER + "We compare with a mixture of experts (MoE) baseline. " + FILLER)
    assert titles([once], Interest(topics=(topic,), include_featured=False)) == []


def test_the_synonyms_of_a_topic_add_up():
    topic = TopicTerms("peft", "Parameter-efficient fine-tuning", ("LoRA", '"adapter"', "prompt tuning"))
    all_three = make(
        1, "Cheaper transfer of speech encoders",
        "We train LoRA modules on the encoder. Several baselines are compared carefully. "
        "Each adapter is placed after attention in every block of the network. "
        "Prompt tuning is also evaluated on the same tasks.",
    )
    one = make(2, "Cheaper transfer of vision encoders", "We train LoRA modules on the encoder. " + FILLER)
    assert titles([all_three, one], Interest(topics=(topic,), include_featured=False)) == [all_three.title]


# Ranking.


def test_title_mentions_rank_above_abstract_mentions():
    mention = "Quantization helps the encoder run on small devices. "
    abstract_only = make(1, "Better speech encoders", mention + FILLER + mention + FILLER + mention)
    in_title = make(2, "Quantization of speech encoders", mention + FILLER + mention + FILLER + FILLER)
    assert titles([abstract_only, in_title], keywords("quantization")) == [in_title.title, abstract_only.title]


def test_a_rare_phrase_outranks_a_common_one():
    common = make(1, "Diffusion for image synthesis", "Diffusion is used twice here. " + FILLER + "Diffusion again.")
    rare = make(2, "Speculative decoding for chat", "Speculative decoding is used twice here. " + FILLER + "Speculative decoding again.")
    found = match([common, rare], keywords("diffusion", "speculative decoding"))
    assert [m.paper.title for m in found] == [rare.title, common.title]
    assert found[0].score > 1.5 * found[1].score


def test_repeated_mentions_saturate():
    mention = "Quantization helps the encoder run on small devices. "
    three = make(1, "Quantization of speech encoders", mention * 3)
    fifteen = make(2, "Quantization of vision encoders", mention * 15)
    scores = {m.paper.pk: m.score for m in match([three, fifteen], keywords("quantization"))}
    assert scores[2] > scores[1]
    assert scores[2] < 1.3 * scores[1]  # five times the mentions, not five times the score


def test_upvotes_lift_a_match_moderately_but_never_make_one():
    quiet = make(1, "Quantization of speech encoders", upvotes=0)
    popular = make(2, "Quantization of vision encoders", upvotes=500)
    viral = make(3, "Faster sorting networks", FILLER + "Unlike quantization, we keep full precision.", upvotes=100_000)
    found = match([quiet, popular, viral], keywords("quantization"))
    # The viral paper names the keyword once: in the list, but 100,000 upvotes do not
    # lift it over two papers about quantization.
    assert [m.paper.pk for m in found] == [2, 1, 3]
    assert 1 < found[0].score / found[1].score <= 1 + UPVOTE_MAX_BOOST


def test_limit_keeps_the_best_matches():
    papers = [make(n, f"Quantization study {n}", "Quantization helps the encoder run on small devices. " * n) for n in range(1, 6)]
    assert [m.paper.pk for m in match(papers, keywords("quantization"), limit=2)] == [5, 4]


# Why a paper matched.


def test_every_match_says_what_matched_and_where():
    paper = make(
        1, "LoRA for speech recognition",
        "Post-training quantization of the base model is applied first. Then we fine-tune. "
        "Post-training quantization keeps memory low; we ablate post-training quantization too.",
    )
    [found] = match([paper], Interest(topics=(QUANTIZATION,), keywords=("LoRA",), include_featured=False))
    assert sorted(found.reasons) == [
        "keyword 'LoRA' in title",
        "topic Quantization: 'post-training quantization' in abstract",
    ]


def test_reasons_are_ordered_by_how_much_each_clause_scored():
    paper = make(1, "Quantization of large language models for speech", "Quantization of the LLM is cheap. " * 3)
    [found] = match([paper], Interest(topics=(LLM, QUANTIZATION), include_featured=False))
    assert found.reasons[0].startswith("topic Quantization: 'quantization' in title and abstract")
    assert found.reasons[1].startswith("topic Large language models:")


def test_a_why_line_shows_what_the_paper_wrote():
    papers = [
        make(1, "Sparse mixture of experts at scale", "Routing in MoE layers. Every MoE layer. MoE layers " * 3),
        make(2, "Graph networks in knowledge distillation", FILLER),
        make(3, "Routing tokens in MoE layers", FILLER),
    ]
    found = {m.paper.pk: m.reasons[0] for m in match(papers, keywords("mixture of experts", "knowledge graphs"))}
    # The title's words first (not the acronym the abstract repeats) ...
    assert found[1].startswith("keyword 'mixture of experts' in title")
    # ... and an acronym in its own letters.
    assert found[3] == "keyword 'mixture of experts': 'MoE' in title"
    # Words found apart are not a phrase the paper wrote.
    assert found[2] == "keyword 'knowledge graphs': 'knowledge … graphs' in title"


def test_a_why_line_names_the_word_the_paper_wrote_where_the_stemmer_made_two_words_one():
    # "security" and "secure" share a stem: the paper is found, but it never wrote
    # "security". A plural is the same word, and stays as typed.
    papers = [
        make(1, "Secure inference of large models", FILLER),
        make(2, "Fine-tuned encoders for retrieval", FILLER),
        make(3, "A diffusion model for speech", FILLER),
    ]
    found = {m.paper.pk: m.reasons[0] for m in match(papers, keywords("security", "fine-tuning", "diffusion models"))}
    assert found[1] == "keyword 'security': 'secure' in title"
    assert found[2] == "keyword 'fine-tuning': 'fine-tuned' in title"
    assert found[3] == "keyword 'diffusion models' in title"


def test_a_keyword_through_a_topic_the_reader_follows_is_not_said_twice():
    paper = make(1, "Post-training quantization of speech encoders", "Quantization of weights. " * 3)
    index = PaperIndex([paper], sample_stats())
    through = index._with_topic(index._keyword("low bits"), "low bits", QUANTIZATION)
    index._keyword_cache[("low bits", True, True, frozenset())] = through  # as the keyword would read with vectors
    [found] = index.match(Interest(topics=(QUANTIZATION,), keywords=("low bits",), include_featured=False))
    assert found.reasons == ["topic Quantization: 'post-training quantization' in title; 'quantization' in abstract"]
    [alone] = index.match(keywords("low bits"))
    assert alone.reasons[0].startswith("'low bits' → topic Quantization:")


def test_every_interest_that_matched_has_its_best_paper_in_a_cut_list():
    # Six strong matches of one keyword would fill a list of five; the reader's other
    # keyword matched one paper, less strongly, and it must not be cut.
    papers = [make(n, f"Quantization of model {n}", "Quantization " * 3 + FILLER) for n in range(1, 7)]
    papers.append(make(7, "A sorting network", "We apply a pruning step. " + FILLER))
    found = match(papers, keywords("quantization", "pruning"), limit=5)
    assert len(found) == 5 and found.total == 7
    assert 7 in [m.paper.pk for m in found]
    uncut = [m.paper.pk for m in match(papers, keywords("quantization", "pruning"))]
    assert uncut.index(7) >= 5  # it was ranked below the cut by score alone
    # What it displaced is named past the cut, best first.
    assert found.more_ids == [pk for pk in uncut if pk not in {m.paper.pk for m in found}]


def test_a_match_past_the_cut_is_named_with_the_interest_that_brought_it():
    papers = [make(n, f"Quantization of model {n}", "Quantization " * 3 + FILLER) for n in range(1, 4)]
    papers.append(make(4, "A sorting network", "We apply a pruning step. " + FILLER))
    interest = Interest(topics=(QUANTIZATION,), keywords=("pruning",), include_featured=False)
    found = match(papers, interest, limit=1)
    uncut = {m.paper.pk: m for m in match(papers, interest)}
    assert len(found.more_ids) == len(found.more_sections) == 3
    for pk, (topic, reason) in zip(found.more_ids, found.more_sections, strict=True):
        # As the paper's own Match files it (here, one interest per paper).
        whole = uncut[pk]
        assert topic == (whole.topic.name if whole.topic else None)
        assert reason == whole.reasons[0]
    by_pk = dict(zip(found.more_ids, found.more_sections, strict=True))
    assert all(by_pk[pk][0] == "Quantization" for pk in by_pk if pk != 4)
    assert 4 not in by_pk or by_pk[4] == (None, "keyword 'pruning' in abstract")


def test_a_paper_appears_once_under_its_best_matching_topic():
    paper = make(1, "Post-training quantization of large language models", "Quantization of the LLM weights. " * 3)
    found = match([paper], Interest(topics=(LLM, QUANTIZATION), include_featured=False))
    assert len(found) == 1
    assert found[0].topic == QUANTIZATION


def test_a_keyword_only_match_has_no_topic():
    [found] = match([make(1, "LoRA for speech recognition")], keywords("LoRA"))
    assert found.topic is None
    assert found.reasons == ["keyword 'LoRA' in title"]


# Followed authors.


@pytest.mark.parametrize("spelling", ["Zoë Ångström", "Z. Ångström", "Zoë M. Ångström", "Ångström, Zoë", "ZOE ANGSTROM"])
def test_a_followed_author_matches_however_the_catalog_spells_the_name(spelling):
    paper = make(1, "Faster sorting networks", authors=["Ada Lovelace", spelling])
    [found] = match([paper], Interest(authors=("Zoe Angstrom",), include_featured=False))
    assert found.reasons == [f"author {spelling}"]


@pytest.mark.parametrize("other", ["Zoe Smith", "Zoltan Angstrom", "Y. Angstrom", "Zoë Ångströmer"])
def test_a_followed_author_does_not_match_someone_else(other):
    paper = make(1, "Faster sorting networks", authors=[other])
    assert titles([paper], Interest(authors=("Zoe Angstrom",), include_featured=False)) == []


def test_different_middle_initials_are_different_people():
    paper = make(1, "Faster sorting networks", authors=["John B. Smith"])
    assert titles([paper], Interest(authors=("John A. Smith",), include_featured=False)) == []
    assert titles([paper], Interest(authors=("John Smith",), include_featured=False)) == [paper.title]


def test_an_author_match_outranks_a_topic_match():
    by_author = make(1, "Faster sorting networks", authors=["Zoë Ångström"])
    on_topic = make(2, "Post-training quantization of speech models", "Quantization. " * 4, upvotes=1000)
    found = match([by_author, on_topic], Interest(topics=(QUANTIZATION,), authors=("Zoe Angstrom",), include_featured=False))
    assert [m.paper.pk for m in found] == [1, 2]


# What is never sent, and what always opens the list.


def test_an_excluded_phrase_removes_even_a_strong_match():
    papers = [make(1, "Q-BERT: quantization of BERT"), make(2, "Quantization of vision transformers")]
    interest = keywords("quantization", excluded=("BERT",))
    assert titles(papers, interest) == ["Quantization of vision transformers"]


def test_exclusions_follow_the_same_word_rules():
    papers = [make(1, "Quantization of vision transformers"), make(2, "Quantization for quantum-safe chips")]
    assert titles(papers, keywords("quantization", excluded=("quantum",))) == ["Quantization of vision transformers"]
    assert titles(papers, keywords("quantization", excluded=("transformer",))) == ["Quantization for quantum-safe chips"]


def test_editors_picks_open_the_list_even_without_a_match():
    pick = make(1, "Faster sorting networks", is_featured=True)
    on_topic = make(2, "Quantization of vision transformers", upvotes=5000)
    found = match([pick, on_topic], keywords("quantization", include_featured=True))
    assert [(m.paper.pk, m.featured) for m in found] == [(1, True), (2, False)]
    assert found[0].reasons == ["editor's pick"]


def test_a_pick_that_also_matches_says_both():
    pick = make(1, "Quantization of vision transformers", is_featured=True)
    [found] = match([pick], keywords("quantization", include_featured=True))
    assert found.featured
    assert found.reasons == ["editor's pick", "keyword 'quantization' in title"]


def test_readers_who_do_not_want_picks_get_them_only_when_they_match():
    pick = make(1, "Faster sorting networks", is_featured=True)
    matching_pick = make(2, "Quantization of vision transformers", is_featured=True)
    found = match([pick, matching_pick], keywords("quantization", include_featured=False))
    assert [(m.paper.pk, m.featured) for m in found] == [(2, False)]


def test_an_excluded_phrase_removes_an_editors_pick_too():
    pick = make(1, "Faster sorting networks for BERT", is_featured=True)
    assert titles([pick], Interest(excluded=("BERT",), include_featured=True)) == []


def test_hidden_papers_are_never_matched():
    hidden = make(1, "Quantization of vision transformers", is_hidden=True, is_featured=True, authors=["Zoë Ångström"])
    index = PaperIndex([hidden], sample_stats())
    interest = Interest(topics=(QUANTIZATION,), keywords=("quantization",), authors=("Zoe Angstrom",), include_featured=True)
    assert index.match(interest) == []
    assert index.papers == []


def test_papers_already_sent_are_never_matched_again():
    papers = [make(1, "Quantization of vision transformers"), make(2, "Quantization of speech encoders", is_featured=True)]
    assert titles(papers, keywords("quantization", include_featured=True), exclude_ids={1, 2}) == []
    assert titles(papers, keywords("quantization", include_featured=True), exclude_ids=[2]) == [papers[0].title]


def test_only_papers_listed_in_the_window_are_matched():
    papers = [
        make(1, "Quantization one", listed_on=DAY - dt.timedelta(days=2)),
        make(2, "Quantization two", listed_on=DAY - dt.timedelta(days=1)),
        make(3, "Quantization three", listed_on=DAY),
        make(4, "Quantization undated", listed_on=None),
    ]
    interest = keywords("quantization")
    assert {m.paper.pk for m in match(papers, interest, listed_from=DAY - dt.timedelta(days=1), listed_to=DAY)} == {2, 3}
    assert {m.paper.pk for m in match(papers, interest, listed_to=DAY - dt.timedelta(days=2))} == {1}
    assert {m.paper.pk for m in match(papers, interest)} == {1, 2, 3, 4}


def test_an_empty_interest_matches_nothing_but_picks():
    papers = [make(1, "Quantization of vision transformers"), make(2, "Faster sorting networks", is_featured=True)]
    assert titles(papers, Interest(keywords=("  ", "!!"), include_featured=False)) == []
    assert titles(papers, Interest()) == ["Faster sorting networks"]


# The index: one query to build, none to match, and fast.


@pytest.mark.django_db
def test_build_takes_document_frequencies_from_the_catalog(django_assert_num_queries):
    catalog = [Paper(title=f"Graph networks {n}", abstract="Graph networks on graphs.", listed_on=DAY - dt.timedelta(days=30)) for n in range(20)]
    Paper.objects.bulk_create(catalog)
    Paper.objects.create(title="A hidden paper", abstract="Hidden.", listed_on=DAY, is_hidden=True)
    today = Paper.objects.create(title="Graph transformers", abstract=FILLER, listed_on=DAY)
    # Whether the catalog changed, then its texts; for semantic matching, the topics'
    # vectors, whether any paper has a vector (none here: no sample to read) and whether
    # the curators changed the related terms (none curated: nothing more to read).
    with django_assert_num_queries(5):
        index = PaperIndex.build([today])
    assert index.stats.n_docs == 21  # the visible catalog, not the one candidate
    with django_assert_num_queries(4):  # unchanged catalog: statistics and sample are reused
        again = PaperIndex.build([today])
    assert again.stats is index.stats
    with django_assert_num_queries(0):
        index.match(keywords("graph transformer", authors=("Zoe Angstrom",), excluded=("BERT",)))


@pytest.mark.django_db
def test_an_empty_catalog_takes_frequencies_from_the_candidates():
    papers = [make(1, "Quantization of vision transformers"), make(2, "Faster sorting networks")]
    index = PaperIndex.build(papers)
    assert index.stats.n_docs == 2
    assert [m.paper.pk for m in index.match(keywords("quantization"))] == [1]


@pytest.mark.django_db
def test_matching_many_readers_asks_the_database_nothing(django_assert_num_queries):
    # Speed is measured by `manage.py bench_matching`; what a test can pin is the shape:
    # once the index is built, scoring readers is in-memory work, never a query per paper.
    papers = sample_papers()
    index = PaperIndex(papers, sample_stats())
    rng = random.Random(4)
    topics = [QUANTIZATION, LLM, TopicTerms("moe", "Mixture of experts", ("mixture of experts", "MoE", "sparse MoE"))]
    words = ["LoRA", "speculative decoding", "diffusion", "graph neural network", "RAG", "speech", "3D", "agents"]
    interests = [
        Interest(
            topics=tuple(rng.sample(topics, rng.randint(0, 3))),
            keywords=tuple(rng.sample(words, rng.randint(0, 3))) + (f"rare phrase {n}",),
            authors=(f"Author Number{n}",),
            excluded=("BERT",) if n % 3 == 0 else (),
        )
        for n in range(200)
    ]
    with django_assert_num_queries(0):
        results = [index.match(interest, limit=10) for interest in interests]
    assert any(results), "some readers should get papers"


# Found by a code review (helper 78): typed keywords that found the wrong papers, or none.


@pytest.mark.parametrize("typed", ["pick-and-place", "one-vs-rest", "A/B testing", "S&P 500", "w/o"])
def test_a_keyword_whose_separator_is_inside_a_word_or_leaves_a_lone_letter_stays_whole(typed):
    # Read as alternatives, "pick-and-place" was "pick-" or "-place", and "A/B testing"
    # found every paper with the word "a".
    papers = [
        make(1, "A robot arm learns pick-and-place", "We study pick-and-place with one-vs-rest heads. " + FILLER),
        make(2, "A study of A/B testing and the S&P 500, w/o bias", "We report A/B testing on the S&P 500 w/o bias."),
        make(3, "A pick of models for every task, then a place to test them at rest"),
    ]
    found = match(papers, keywords(typed))
    assert 3 not in [m.paper.pk for m in found]
    assert found, typed


def test_quoted_alternatives_are_each_matched_as_written():
    papers = [
        make(1, "LoRA for speech models"),
        make(2, "An adapter for vision transformers"),
        make(3, "Low-rank adaptation of language models"),  # LoRA's long form, not "LoRA" as written
    ]
    assert sorted(m.paper.pk for m in match(papers, keywords('"LoRA" or "adapter"'))) == [1, 2]


def test_a_word_in_quotes_inside_a_keyword_still_gets_the_keywords_other_readings():
    papers = [make(1, "Large language model agents that plan"), make(2, "LLM agents for the web")]
    assert sorted(m.paper.pk for m in match(papers, keywords('"LLM" agents'))) == [1, 2]


def test_a_long_form_typed_is_found_as_the_acronym_never_as_an_ordinary_word():
    papers = [make(1, "Batching ragged sequences on GPUs"), make(2, "RAG with long documents")]
    assert [m.paper.pk for m in match(papers, keywords("retrieval-augmented generation"))] == [2]


@pytest.mark.parametrize(
    "british, american", [("quantisation", "quantization"), ("generalisation", "generalization"), ("analysed", "analyzed")]
)
def test_british_spellings_find_what_the_american_ones_find(british, american):
    papers = [
        make(1, f"Better {american} of neural networks"),
        make(2, f"Revisiting {british} for transformers"),
        make(3, "Supervised learning of speech"),
    ]
    assert sorted(m.paper.pk for m in match(papers, keywords(british))) == [1, 2]
    assert sorted(m.paper.pk for m in match(papers, keywords(american))) == [1, 2]
    # The why-line names what the paper wrote.
    [first] = [m for m in match(papers, keywords(british)) if m.paper.pk == 1]
    assert american in first.reasons[0]


def test_british_ise_words_that_are_no_ize_words_keep_their_families():
    assert stem("supervised") == stem("supervision")
    assert stem("promising") == stem("promise")
    assert stem("precise") == stem("precision")


@pytest.mark.parametrize("typed", ["DIFFUSION MODELS", "QUANTIZATION", "PRIVACY"])
def test_a_keyword_typed_in_capitals_finds_what_it_finds_in_lower_case(typed):
    # Read as an abbreviation, it found only the papers that shout too.
    papers = [
        make(n, f"Diffusion models for video {n}", "Quantization and privacy are also studied. " * 2)
        for n in (1, 2, 3)
    ]
    papers += [make(4, "QUANTIZATION MATTERS: PRIVACY of DIFFUSION MODELS"), make(5, "A sorting network")]
    shouted = sorted(m.paper.pk for m in match(papers, keywords(typed)))
    assert shouted == sorted(m.paper.pk for m in match(papers, keywords(typed.lower()))) == [1, 2, 3, 4]


def test_a_title_in_capitals_is_found_by_a_word_of_the_ize_family():
    papers = [make(1, "TOKENIZATION MATTERS FOR CODE MODELS"), make(2, "A sorting network")]
    assert [m.paper.pk for m in match(papers, keywords("tokenization"))] == [1]


def test_whether_an_abbreviation_finds_its_plain_writing_does_not_depend_on_the_days_papers():
    # "LLaMA" finds "Llama" because the catalog writes the two alike, whichever papers
    # one day's index holds; before, an index of only these two papers decided otherwise.
    stats = CatalogStats.from_texts([("LLaMA models", "We fine-tune LLaMA.")] * 4 + [("Llama 3", "Llama 3.")] * 2)
    papers = [make(n, f"Fine-tuning Llama on task {n}") for n in (1, 2, 3)] + [make(4, "LLaMA for speech")]
    one_day = PaperIndex(papers, stats).match(keywords("LLaMA"))
    assert sorted(m.paper.pk for m in one_day) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("transfomer", "transformer"),
        ("LLM agnets", "LLM agents"),  # two letters swapped
        ("chain of thougth", "chain of thought"),  # not "though": the phrase papers write wins
        ("mixture of exprets", "mixture of experts"),
        ("qwzx flarb", None),  # nothing close: no guess
        ("aixed qatch xatch zatch jatch vatch qound xound", None),  # not typos: words papers do not use
        ("diffusion models", None),  # nothing unknown
    ],
)
def test_a_mistyped_keyword_gets_the_spelling_papers_use(typed, meant):
    assert did_you_mean(typed, sample_stats()) == meant


def test_a_keyword_mention_that_is_no_match_of_its_own_says_so_in_the_why_line():
    papers = [
        make(1, "Post-training quantization of language models",
             "Quantization of weights. " * 3 + "Unlike unlearning, we keep every weight. " + FILLER * 2),
        make(2, "Machine unlearning for language models"),
    ]
    interest = Interest(topics=(QUANTIZATION,), keywords=("machine unlearning",), include_featured=False)
    by_pk = {m.paper.pk: m.reasons for m in match(papers, interest)}
    assert by_pk[1][0].startswith("topic Quantization:")
    assert by_pk[1][1] == "keyword 'machine unlearning': 'unlearning' in abstract (in passing)"
    assert not any(reason.endswith("(in passing)") for reason in by_pk[2])


def test_vision_and_language_kept_whole_is_also_what_papers_write_as_vision_language():
    papers = [make(1, "A vision-language model for charts"), make(2, "Vision and language navigation")]
    assert sorted(m.paper.pk for m in match(papers, keywords("vision and language"))) == [1, 2]


def test_a_concept_the_related_terms_list_names_is_one_phrase_not_x_or_y():
    # The sample never writes "simultaneous localization and mapping": it is still one
    # thing, not "simultaneous localization" or any paper that writes "mapping".
    from digest.keywords import RelatedTable, split_alternatives, understand

    stats = sample_stats()
    assert understand("simultaneous localization and mapping", stats)[0] == ["simultaneous localization and mapping"]
    assert understand("privacy and security", stats)[0] == ["privacy", "security"]  # no concept of the list
    papers = [make(1, "Visual SLAM: simultaneous localization and mapping for drones"), make(2, "Mapping the loss landscape")]
    assert [m.paper.pk for m in match(papers, keywords("simultaneous localization and mapping"))] == [1]
    # A curator's concept is one too.
    curated = RelatedTable.from_lines((), [("reasoning and acting", ("ReAct",), ())])
    assert split_alternatives("Reasoning and Acting", stats.doc_share, curated) == ["Reasoning and Acting"]


def test_gaussian_splatting_is_also_3dgs_both_ways():
    papers = [make(1, "Faster 3DGS rendering on phones"), make(2, "Gaussian splatting for dynamic scenes")]
    assert sorted(m.paper.pk for m in match(papers, keywords("Gaussian splatting"))) == [1, 2]
    assert sorted(m.paper.pk for m in match(papers, keywords("3DGS"))) == [1, 2]


def test_every_match_past_the_cut_is_tagged_as_its_own_match_would_file_it():
    # Several interests per paper, over the whole sample: the tag past the cut is the
    # section the paper's Match has (a match before a mention, the title first), not
    # merely its strongest interest.
    papers = sample_papers()
    index = PaperIndex(papers, sample_stats())
    interest = Interest(
        topics=(LLM, QUANTIZATION), keywords=("RAG", "LoRA", "diffusion", "reasoning"), include_featured=False
    )
    cut = index.match(interest, limit=3)
    whole = {m.paper.pk: m for m in index.match(interest)}
    assert len(cut.more_sections) == len(cut.more_ids) >= 40
    for pk, (topic, reason) in zip(cut.more_ids, cut.more_sections, strict=True):
        own = whole[pk]
        assert (topic, reason) == (own.topic.name if own.topic else None, own.reasons[0]), own.paper.title


def test_a_compound_joined_by_a_small_word_is_loosened_whole_or_not_at_all():
    papers = [
        make(1, "Machine unlearning for language models"),
        make(2, "A pick of models, then a place for them"),
        make(3, "Pick-and-place with a robot arm"),
    ]
    # "end-to-end" is left out whole: "unlearning" is what the reader wants.
    assert [m.paper.pk for m in match(papers, keywords("end-to-end unlearning"))] == [1]
    # "pick-and-place" is never cut to "pick" or "place".
    assert [m.paper.pk for m in match(papers, keywords("pick-and-place"))] == [3]


# From a review of how typed words are read (about 300 keywords over the sample).


def test_operators_and_accelerators_are_things_not_operations_or_acceleration():
    papers = [
        make(1, "Neural operators for turbulent flow"),
        make(2, "Counting floating point operations of networks"),
        make(3, "A systolic accelerator for sparse attention"),
        make(4, "Accelerating inference with caching"),
    ]
    assert titles(papers, keywords("operators")) == ["Neural operators for turbulent flow"]
    assert titles(papers, keywords("hardware accelerators")) == ["A systolic accelerator for sparse attention"]


@pytest.mark.parametrize(
    "typed, wanted, unwanted",
    [
        ("interpretability", "Interpretable concept bottlenecks", "Interpreting chest X-ray images with a VLM"),
        ("reasoning", "Reasoning with chain-of-thought", "Reasonable defaults for image classifiers"),
        ("preference optimization", "Preference optimization without a reward model", "Preferred backbones for detection"),
        ("alignment", "Alignment of chat models with human values", "Features aligned across views"),
        ("optimizers", "Adaptive optimizers at scale", "Optimization of routing in networks"),
        ("ranking", "Ranking passages with language models", "Low-rank updates for vision models"),
    ],
)
def test_a_researchers_word_is_not_folded_into_a_commoner_one(typed, wanted, unwanted):
    # Snowball cuts each pair to one stem ("interpret", "reason", "prefer", "align",
    # "optim", "rank"): a reader of interpretability got the X-ray paper.
    papers = [make(1, wanted), make(2, unwanted)]
    assert titles(papers, keywords(typed)) == [wanted]


def test_the_able_family_still_finds_itself():
    papers = [make(1, "Interpretable features"), make(2, "The interpretability of features")]
    assert len(titles(papers, keywords("interpretability"))) == 2
    assert len(titles(papers, keywords("interpretable"))) == 2
    assert stem("considered") == stem("consider")  # a verb's own "-er" is still cut


def test_acronym_plurals_typed_in_lower_case_find_the_acronym_and_its_long_form():
    papers = [make(1, "Evaluating LLMs on code"), make(2, "Large language models as judges"), make(3, "Sorting")]
    assert sorted(m.paper.pk for m in match(papers, keywords("llms"))) == [1, 2]
    assert [m.paper.pk for m in match([make(4, "Message passing in GNNs")], keywords("gnns"))] == [4]


@pytest.mark.parametrize(
    "british, american",
    [("behaviour", "behavior"), ("tumour segmentation", "tumor segmentation"), ("dialogue systems", "dialog systems")],
)
def test_british_spellings_beyond_ise_find_the_american_ones(british, american):
    papers = [make(1, f"A study of {american}"), make(2, f"Revisiting {british}")]
    assert sorted(m.paper.pk for m in match(papers, keywords(british))) == [1, 2]


def test_latin_plurals_are_their_singulars():
    papers = [make(1, "Sparse matrices on GPUs"), make(2, "A matrix for every layer")]
    assert sorted(m.paper.pk for m in match(papers, keywords("matrix"))) == [1, 2]
    analysis = [make(3, "Analyses of scaling"), make(4, "An analysis of scaling"), make(5, "We analyze scaling")]
    assert sorted(m.paper.pk for m in match(analysis, keywords("analysis"))) == [3, 4]


def test_a_shared_word_typed_once_belongs_to_both_alternatives():
    stats = sample_stats()
    assert understand("image and video generation", stats)[0] == ["image generation", "video generation"]
    assert understand("pre- and post-training", stats)[0] == ["pre-training", "post-training"]
    # Not where the catalog never writes the completed part.
    assert understand("LLMs and multimodal models", stats)[0] == ["LLMs", "multimodal models"]
    papers = [make(1, "Image classification at scale"), make(2, "Image generation with diffusion")]
    assert titles(papers, keywords("image and video generation")) == ["Image generation with diffusion"]


def test_an_acronym_pasted_with_its_long_form_in_parentheses_is_both():
    assert understand("LoRA (low-rank adaptation)", sample_stats())[0] == ["LoRA", "low-rank adaptation"]
    papers = [make(1, "LoRA for speech models"), make(2, "Low-rank adaptation of language models")]
    assert sorted(m.paper.pk for m in match(papers, keywords("LoRA (low-rank adaptation)"))) == [1, 2]


def test_a_version_number_is_never_dropped_or_matched_loosely():
    papers = [
        make(1, "Training with 8-bit optimizers", "Memory is saved with 8-bit states. " + FILLER),
        make(2, "Fine-tuning in 4-bit"),
        make(3, "GPT-4 as a judge", "Compared with Gemini-1.5 and GPT-4 on five tasks. " + FILLER),
    ]
    assert titles(papers, keywords("4-bit")) == ["Fine-tuning in 4-bit"]
    assert titles(papers, keywords("GPT-5")) == []


def test_an_acronym_is_not_learned_as_a_single_word_or_from_a_small_word():
    # "Pairwise Ranking Prompting (PRP)": the shortest candidate, "prompting", is not it;
    # nor is "an autoencoder" AE.
    stats = CatalogStats.from_texts(
        [
            ("Rankers", "We propose Pairwise Ranking Prompting (PRP) for ranking."),
            ("Codes", "We train an autoencoder (AE) on images."),
            ("Experts", "A mixture-of-experts (XE) model."),
        ]
    )
    assert stats.acronyms.long_forms("PRP") == {"pairwise ranking prompting"}
    assert "an autoencoder" not in stats.acronyms.long_forms("AE")
    assert stats.acronyms.long_forms("XE") == set()  # one word, not spelling it by its parts


def test_an_acronym_ending_in_s_typed_in_capitals_is_not_a_plural():
    stats = sample_stats()
    assert stats.acronyms.long_forms("llms")  # lower case: the plural of "llm"
    assert stats.acronyms.long_forms("CLS") == set() and stats.acronyms.long_forms("SRS") == set()


@pytest.mark.parametrize(
    "typed, alternatives",
    [
        ("diffusion models and transformers", ["diffusion models", "transformers"]),  # "transformers" kept
        ("transformers and state space models", ["transformers", "state space models"]),
        ("in- and out-of-distribution detection", ["in-distribution detection", "out-of-distribution detection"]),
        ("pre\u2010 and post\u2010training data", ["pre\u2010training data", "post\u2010training data"]),
        ("LoRA (low-rank adaptation) and adapters", ["LoRA", "low-rank adaptation", "adapters"]),
        ("quantization (LLMs)", ["quantization (LLMs)"]),  # the parentheses do not define
        ("C (programming language)", ["C (programming language)"]),
    ],
)
def test_a_keyword_is_never_narrowed_past_what_was_typed(typed, alternatives):
    found = understand(typed, sample_stats())[0]
    assert all(alternative in found for alternative in alternatives), found


def test_british_whole_words_do_not_rewrite_american_ones():
    assert stem("programmed") == stem("program") != stem("programmer")
    assert stem("programme") == stem("program")
    assert stem("centre") == stem("center") and stem("centred") == stem("centered")
    assert stem("empowered") == stem("empower") and stem("narrower") == stem("narrow")


def test_a_numbered_name_among_other_words_is_still_read_loosely():
    papers = [make(1, "Are ChatGPT and GPT-4 good poker players?")]
    assert titles(papers, keywords("GPT-4 poker")) == ["Are ChatGPT and GPT-4 good poker players?"]


def test_a_word_is_not_cut_in_two_unless_the_catalog_writes_it_apart():
    typed = understand("database", sample_stats())[1]
    assert "data base" not in typed
    assert "red teaming" in understand("redteaming", sample_stats())[1]


def test_a_keyword_written_early_in_a_paper_reads_as_what_it_is_about():
    # The decision reads how far into the paper a keyword first comes: in the title, or
    # at the start of the abstract, it names the subject; in the last sentence it is
    # likelier an aside ("... unlike speculative decoding, ...").
    first = "Speculative decoding makes large models answer faster. " + FILLER * 3
    last = FILLER * 3 + "We also compare with speculative decoding."
    papers = [
        make(1, "Speculative decoding for everyone"),
        make(2, "A study of serving", first),
        make(3, "A study of serving, again", last),
    ]
    index = PaperIndex(papers, sample_stats())
    hits = index._keyword("speculative decoding").hits
    assert hits[0].depth == 0.0
    assert hits[1].depth < 0.05
    assert hits[2].depth > 0.9


def test_a_hyphenated_name_with_a_one_letter_part_is_one_word():
    # "k-NN" is k-nearest neighbours: its "NN" is not "neural network", and a "k" near an
    # "NN" is not it either. It found a pruning paper that writes "neural network (NN)".
    papers = [
        make(1, "A study of pruning", "We model neural network (NN) training and the pruned NN loss. " + FILLER),
        make(2, "Retrieval by neighbours", "A k-NN classifier over embeddings. " + FILLER),
        make(3, "Stochastic neighbour embedding", "We revisit SNE, the method before t-SNE. " + FILLER),
        make(4, "The SNE baseline", "SNE embeds points; SNE is slow. " + FILLER),
    ]
    assert titles(papers, keywords("k-NN")) == ["Retrieval by neighbours"]
    assert titles(papers, keywords("t-SNE")) == ["Stochastic neighbour embedding"]


def test_a_name_ending_in_a_lone_letter_is_not_a_word_joined():
    # "Shap-E" (a 3D generator, a related term of "3D generation") found every paper
    # that writes "shape", and its why-line named Shap-E. A leading letter still joins:
    # "U-Net" is "UNet".
    papers = [
        make(1, "Shape priors for motion capture"),
        make(2, "Text-to-3D with Shap-E"),
        make(3, "A UNet for segmentation"),
        make(4, "A U-Net for segmentation"),
    ]
    assert titles(papers, keywords("Shap-E")) == ["Text-to-3D with Shap-E"]
    assert set(titles(papers, keywords("U-Net"))) == {"A UNet for segmentation", "A U-Net for segmentation"}


def test_a_single_letter_is_never_what_a_keyword_is_about():
    # "A/B testing" was loosened to its rarest word alone: "B", as in "Model B".
    papers = [make(1, "Why model B beats model A", "We compare two models, A and B. " + FILLER)]
    assert titles(papers, keywords("A/B testing")) == []


def test_a_name_joined_in_capitals_finds_it_written_apart():
    # The catalog (the sample) writes "Hugging Face"; a reader types "HuggingFace".
    papers = [make(1, "Open models", "All weights are released on Hugging Face. " + FILLER)]
    assert titles(papers, keywords("HuggingFace")) == ["Open models"]
    assert titles(papers, keywords("Hugging Face")) == ["Open models"]
    # Two common words joined are likelier a name of their own: "FastText" is not "fast text".
    assert titles([make(2, "FastEdit: Fast Text-Guided Editing")], keywords("FastText")) == []
