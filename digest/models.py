"""The catalog (papers, curated topics) and the digests sent from it."""

from __future__ import annotations

import re
import unicodedata

from django.db import models
from django.utils.text import slugify

ARXIV_VERSION_RE = re.compile(r"v\d+$")


def normalise_arxiv_id(raw: str | None) -> str | None:
    """`2410.23168v2`, `arXiv:2410.23168`, `http://arxiv.org/abs/2410.23168v1` and
    `https://arxiv.org/pdf/2410.23168v1.pdf` are all `2410.23168`: one paper whatever
    version or form a source (or a curator's paste) gives."""
    if not raw:
        return None
    value = raw.strip()
    for prefix in ("http://arxiv.org/abs/", "https://arxiv.org/abs/", "http://arxiv.org/pdf/", "https://arxiv.org/pdf/",
                   "arxiv:", "arXiv:"):
        if value.lower().startswith(prefix.lower()):
            value = value[len(prefix):]
    if value.lower().endswith(".pdf"):
        value = value[:-4]
    value = ARXIV_VERSION_RE.sub("", value.strip())
    return value or None


def title_key(title: str) -> str:
    """The form two titles are compared in: case, accents, whitespace and punctuation
    do not make two papers different."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", " ", text.lower())
    return " ".join(text.split())[:500]


class Topic(models.Model):
    """A research area curated by the editors, with the phrases that signal it."""

    class Group(models.TextChoices):
        # The signup form shows the groups in this order.
        LANGUAGE = "language", "Language"
        VISION = "vision", "Vision and robotics"
        LEARNING = "learning", "Learning methods"
        SYSTEMS = "systems", "Systems and efficiency"
        SCIENCE = "science", "Science and health"
        SAFETY = "safety", "Safety"

    name = models.CharField(max_length=100, unique=True)
    group = models.CharField(
        max_length=20, choices=Group.choices, blank=True,
        help_text="Where the signup form lists it; topics without a group come last, under “More topics”.",
    )
    slug = models.SlugField(max_length=100, unique=True, blank=True)
    description = models.CharField(max_length=300, blank=True)
    keywords = models.TextField(
        help_text="One phrase per line: synonyms, abbreviations and spellings "
        "(for example LoRA, adapters, prompt tuning). A phrase in double quotes "
        '("adapter") matches only its exact form, plurals allowed: for words the stemmer '
        "folds too far."
    )
    is_active = models.BooleanField(default=True, help_text="Offered on the signup form.")
    # What "Name: description" means to the embedding model (`digest.semantic`), and the
    # text it was computed from: a renamed topic's old vector is never used.
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    embedded_text = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = slugify(self.name)
        super().save(*args, **kwargs)

    @property
    def keyword_list(self) -> list[str]:
        return [line.strip() for line in self.keywords.splitlines() if line.strip()]

    def acronyms(self) -> list[str]:
        """The topic's phrases that are acronyms ("LLM", "ViT"): the signup form's topic
        filter finds the topic by them too ("LLM" finds "Large language models")."""
        from .text import is_abbreviation

        return [phrase for phrase in self.keyword_list if " " not in phrase and is_abbreviation(phrase)]


class Paper(models.Model):
    """One research paper, whichever sources it came from (listing, HF, arXiv)."""

    arxiv_id = models.CharField(
        "arXiv id", max_length=40, unique=True, null=True, blank=True,
        help_text="Without version: 2410.23168, not 2410.23168v2.",
    )
    title = models.CharField(max_length=500)
    title_key = models.CharField(max_length=500, db_index=True, editable=False)
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True, help_text="Names, in paper order.")
    published_on = models.DateField(null=True, blank=True, help_text="First arXiv version.")
    listed_on = models.DateField(
        null=True, blank=True, db_index=True, help_text="Day it appeared in the daily feed."
    )
    page_url = models.URLField(max_length=500, blank=True, help_text="Paper page.")
    pdf_url = models.URLField(max_length=500, blank=True)
    code_url = models.URLField(max_length=500, blank=True, help_text="Code repository.")
    project_url = models.URLField(max_length=500, blank=True)
    upvotes = models.PositiveIntegerField(default=0, help_text="Trending score.")
    github_stars = models.PositiveIntegerField(null=True, blank=True)
    num_comments = models.PositiveIntegerField(null=True, blank=True)
    ai_summary = models.TextField(blank=True)
    ai_keywords = models.JSONField(default=list, blank=True)
    categories = models.JSONField(default=list, blank=True, help_text="arXiv categories, primary first.")
    comment = models.TextField(blank=True, help_text="arXiv comment (pages, venue).")
    organization = models.CharField(max_length=200, blank=True)
    is_featured = models.BooleanField(
        default=False, help_text="Editor's pick: opens every digest that wants picks."
    )
    is_hidden = models.BooleanField(default=False, help_text="Never shown or sent.")
    # The curated topics the matcher finds the paper relevant to (`digest.filing`): the
    # pages' topic chips and the topic feeds read this instead of matching per request.
    topics = models.ManyToManyField(Topic, blank=True, related_name="papers", editable=False)
    # Title and abstract as the embedding model reads them (`digest.semantic`); None until
    # the paper is embedded (at import, or by `embed_papers --missing`).
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-listed_on", "-upvotes", "title"]
        indexes = [models.Index(fields=["listed_on", "is_hidden"])]

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("digest:paper", args=[self.pk])

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        self.title_key = title_key(self.title)
        super().save(*args, **kwargs)

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else ""

    @property
    def arxiv_search_url(self) -> str:
        """arXiv's search for this title: the way to the paper when no link is known."""
        from urllib.parse import urlencode

        return "https://arxiv.org/search/?" + urlencode({"query": self.title, "searchtype": "title"})

    @property
    def best_pdf_url(self) -> str:
        if self.pdf_url:
            return self.pdf_url
        return f"https://arxiv.org/pdf/{self.arxiv_id}" if self.arxiv_id else ""

    @property
    def best_page_url(self) -> str:
        if self.page_url:
            return self.page_url
        return f"https://huggingface.co/papers/{self.arxiv_id}" if self.arxiv_id else ""


class EmbeddedKeyword(models.Model):
    """What a typed keyword means to the embedding model. Shared by every reader who
    typed it (case and spacing aside), computed when a reader saves it."""

    key = models.CharField(max_length=200, unique=True, help_text="Case-folded, single-spaced.")
    embedding = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class CuratedRelatedTerms(models.Model):
    """A curator's line of the related-terms list: a concept a reader may type, its other
    names and its narrower terms (methods, models, benchmarks), which a paper may write
    instead of the reader's words. The shipped list (`digest/data/related_terms.txt`)
    holds most concepts; a line here adds one it lacks, or takes the place of its line
    for the same concept (case, hyphens, spaces and plurals aside). A line with no terms
    takes a shipped concept's terms away."""

    concept = models.CharField(
        max_length=200,
        help_text="What a reader types, e.g. “model compression”. Case, hyphens, spaces, plurals and British "
        "spellings do not matter.",
    )
    # The concept as keywords are looked up (keywords.concept_key): one line per concept.
    concept_key = models.CharField(max_length=200, unique=True, editable=False)
    synonyms = models.TextField(
        blank=True,
        help_text="Other names for the same thing, separated by semicolons or one per line: neural network "
        "compression; LLM compression. A reader who types one of them gets this line's terms too.",
    )
    narrower = models.TextField(
        blank=True,
        help_text="Narrower terms a paper on it may write instead, separated by semicolons or one per line: "
        "quantization; pruning; knowledge distillation. Terms are found as written (plurals aside); two-letter "
        "ones, here or among the other names, are left out.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["concept"]
        verbose_name = "related-terms line"
        verbose_name_plural = "related terms"

    def __str__(self) -> str:
        return self.concept

    def save(self, *args, **kwargs) -> None:
        from .keywords import concept_key

        self.concept_key = concept_key(self.concept)
        super().save(*args, **kwargs)

    @property
    def line(self):
        """(concept, synonyms, narrower terms), as the shipped list's lines are read."""
        from .keywords import split_terms

        return self.concept.strip(), split_terms(self.synonyms), split_terms(self.narrower)


class Digest(models.Model):
    """One email for one subscriber and one period: the never-resend ledger."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        EMPTY = "empty", "Nothing to send"
        # Sent, the connection was lost before the server's final reply, and the one
        # resend allowed ended the same way: it may or may not have arrived.
        UNCERTAIN = "uncertain", "Uncertain (may have arrived)"

    class Failure(models.TextChoices):
        BOUNCED = "bounced", "Bounced (the mail server refused the address for good)"
        # 5.7.x: spam, policy, authentication. About our sending or the message, not the
        # reader's mailbox: the address is not stopped, and it tends to hit many readers.
        REFUSED = "refused", "Refused as spam or by policy (not the address)"
        GAVE_UP = "gave_up", "Gave up after repeated temporary errors"
        NOT_RECEIVING = "not_receiving", "Subscriber no longer receives digests"
        ERROR = "error", "Error while building or sending"

    subscriber = models.ForeignKey(
        "subscriptions.Subscriber", on_delete=models.CASCADE, related_name="digests"
    )
    period = models.DateField(help_text="Subscriber's local date (daily) or week start (weekly).")
    # Not indexed on its own: every claim and outcome rewrites the row's index entries,
    # and "digest_status_next_attempt" (status first) serves the lookups by status.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    subject = models.CharField(max_length=300, blank=True)
    # Set when the digest is planned, before any attempt: every attempt (a retry, the
    # resend of an uncertain one) carries the same Message-ID, so servers and clients that
    # deduplicate see one message.
    message_id = models.CharField(max_length=200, blank=True)
    papers = models.ManyToManyField(Paper, through="DigestItem", related_name="digests")
    # Stored when the digest is planned, so the changelist never counts items per row.
    paper_count = models.PositiveSmallIntegerField(default=0, help_text="Papers in the digest when it was planned.")
    # Every paper that matched, of which the items are the top `max_papers`: the email
    # says "Top 8 of 42 matches" instead of hiding the other 34. Null for digests planned
    # before it was counted.
    match_count = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # The matches past the cut, best first, by paper id: the digest's web page lists every
    # match of the day, not only the sent ones. Ids rather than rows: most are never looked at.
    more_paper_ids = models.JSONField(default=list, blank=True, editable=False)
    # Their tags, by position (the topic, keyword or author that brought each): the page
    # says why each is there, as the email does for the sent ones.
    more_paper_tags = models.JSONField(default=list, blank=True, editable=False)
    # Papers that mention one of the reader's keywords only in passing, best first, as
    # [paper id, keyword] pairs: not matches, but the web page lists them below the
    # matches instead of dropping them.
    in_passing = models.JSONField(default=list, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    # `attempts` when a failed digest was last retried by hand: it then gets a fresh round
    # of DIGEST_MAX_ATTEMPTS, while `attempts` keeps counting them all.
    attempts_at_retry = models.PositiveSmallIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True)
    failure = models.CharField(max_length=20, choices=Failure.choices, blank=True)
    uncertain = models.BooleanField(
        default=False,
        help_text="An attempt lost the connection after the message was sent and before the "
        "server's final reply: a copy may have arrived, so one resend may be a duplicate.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When a pending digest is expected to be attempted: when it was queued, or when its
    # retry is due. The sweeper re-queues pending digests well past this instant.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period", "-created_at"]
        # The admin's changelist order (the default plus the id it adds to make the order
        # total), so its first page is read from the index, not by sorting the ledger.
        indexes = [
            models.Index(fields=["-period", "-created_at", "-id"], name="digest_ledger_order"),
            models.Index(fields=["status", "next_attempt_at"], name="digest_status_next_attempt"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "period"], name="one_digest_per_period")
        ]

    def __str__(self) -> str:
        return f"Digest of {self.period} for {self.subscriber.email}"


class DigestItem(models.Model):
    """A paper in a digest, with its rank and why it was chosen."""

    # Found through "paper_once_per_digest" (digest first): a second index on the same
    # column would only cost each of the ~20 inserts a digest.
    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="items", db_index=False)
    # A sent paper stays in the ledger: deleting it would rewrite what readers were sent
    # (curators hide it instead).
    paper = models.ForeignKey(Paper, on_delete=models.PROTECT, related_name="digest_items")
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField(default=0)
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.SET_NULL)
    matched = models.JSONField(default=list, blank=True, help_text="Why-lines, strongest first.")

    class Meta:
        # By the column, not "digest" (which means the digest's own ordering: a join and a
        # sort over the whole ledger).
        ordering = ["digest_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["digest", "paper"], name="paper_once_per_digest")
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.paper.title}"


class TickRun(models.Model):
    """One run of the digest tick: how many readers were due and what it planned, for
    the sends dashboard. Kept for `RUN_RETENTION_DAYS` (see `digest.runs`)."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    seconds = models.FloatField(help_text="Planning time: reading who is due, matching, writing the ledger.")
    due = models.PositiveIntegerField(default=0, help_text="Readers due without a digest for their period.")
    planned = models.PositiveIntegerField(default=0, help_text="Digests handed to the send workers.")
    empty = models.PositiveIntegerField(default=0, help_text="Recorded with nothing to send.")
    no_listing = models.PositiveIntegerField(default=0, help_text="Due, but nothing new was listed yet.")

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "run of the digest tick"
        # The admin index links the dashboard under this name (see TickRunAdmin).
        verbose_name_plural = "sends dashboard"

    def __str__(self) -> str:
        return f"Tick at {self.started_at:%Y-%m-%d %H:%M:%S}"
