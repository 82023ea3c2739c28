"""Admin for curators: import papers with the command, then feature or hide them here,
and keep the topics (and the phrases that signal them) that subscribers choose from."""

from __future__ import annotations

import datetime as dt
import logging

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst

from subscriptions.models import Subscriber

from .curation import listing_day, try_topic_phrases
from .dashboard import legend, run_seconds_svg, sends_dashboard, stacked_bars_svg
from .digest_email import view_token
from .digests import claim_lease, requeue_failed
from .filing import refresh_papers
from .importers import FORMATS, SourceError, apply_records, embed_imported, parse_source, read_source
from .importers.fetching import size_text
from .importers.parsers import FORMAT_NAMES
from .importers.records import ARXIV_ID_RE
from .importers.sources import is_url, on_private_network
from .keywords import concept_key, related_terms, shipped_reading
from .meaning import current_related_table
from .models import CuratedRelatedTerms, Digest, DigestItem, Paper, TickRun, Topic, normalise_arxiv_id
from .vectors import embed_topics

logger = logging.getLogger(__name__)

# An admin import computes the vectors of up to this many papers while the page waits
# (a few seconds); more go to the imports worker, since a web request that runs for
# minutes is cut off by the server's timeout halfway.
IMPORT_INLINE_PAPERS = 100


def _queue(task, *args) -> bool:
    """Queue a background task now (outside any transaction: the import's papers are
    committed); False when the broker is unreachable (the curator is told what to run
    instead)."""
    from kombu.exceptions import OperationalError

    try:
        task.delay(*args)
    except (OperationalError, OSError):
        return False
    return True


def _queue_after_commit(request: HttpRequest, task) -> bool:
    """Queue `task` once the admin's transaction commits (before, an idle worker could
    read the rows as they were), and once per request however many rows it saves (the
    list's editable columns save each row). False when already queued."""
    queued: set[str] = request.__dict__.setdefault("_queued_tasks", set())
    if task.name in queued:
        return False
    queued.add(task.name)

    def send() -> None:
        if not _queue(task):
            logger.error("%s could not be queued: the broker is unreachable; run manage.py file_papers", task.name)

    transaction.on_commit(send)
    return True


class ImportForm(forms.Form):
    """What `import_papers` takes, from the admin: a file or a URL, format, listing day."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = f"At most {size_text(settings.IMPORT_MAX_BYTES)}."

    file = forms.FileField(required=False)
    url = forms.URLField(
        required=False, assume_scheme="https", label="or a URL",
        help_text="An http(s) address: a Hugging Face daily papers API URL, an arXiv API query, a listing.",
    )
    fmt = forms.ChoiceField(
        choices=[("auto", "Detect")] + [(name, capfirst(FORMAT_NAMES.get(name, name))) for name in FORMATS],
        label="Format",
    )
    listed_on = forms.DateField(
        required=False, label="Listed on", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The day the papers were listed, for records whose source gives none (a listing's default: "
        "today). arXiv records get none otherwise, and a paper with no listing day is on no day page "
        "and in no digest.",
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        # A server path must never be read from here: only http(s) is a URL.
        if url and not is_url(url):
            raise forms.ValidationError("Give an http:// or https:// address.", code="scheme")
        # Nor the server's own network: a curator's form is no way in to its Redis or
        # database ports (the answers told which of them listen).
        if url and not settings.IMPORT_PRIVATE_URLS and on_private_network(url):
            raise forms.ValidationError(
                "That address is on this server's own network: give a public one.", code="private"
            )
        return url

    def clean(self) -> dict:
        data = super().clean()
        upload, url = data.get("file"), data.get("url")
        if not self.errors and bool(upload) == bool(url):
            raise forms.ValidationError("Choose a file or give a URL (one of the two).", code="one_source")
        if upload and upload.size > settings.IMPORT_MAX_BYTES:
            self.add_error("file", f"The file is larger than {size_text(settings.IMPORT_MAX_BYTES)}.")
        return data

    def read(self) -> bytes:
        """The source's bytes; SourceError says why not."""
        upload = self.cleaned_data.get("file")
        if upload:
            return upload.read()
        return read_source(self.cleaned_data["url"], fmt=self.cleaned_data["fmt"])


def _https_links(field: models.Field, **kwargs) -> forms.Field | None:
    # Links pasted without a scheme are almost always https nowadays.
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class PaperForm(forms.ModelForm):
    """The paper as a curator edits it: an arXiv id in any form they paste, stored as the
    importers store it (else the next import of that paper makes a second one), and
    authors one per line rather than as JSON."""

    authors = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One name per line, in paper order.",
    )

    class Meta:
        model = Paper
        fields = "__all__"
        labels = {"arxiv_id": "arXiv id", "pdf_url": "PDF URL", "page_url": "Page URL", "code_url": "Code URL",
                  "project_url": "Project URL", "is_featured": "Editor's pick", "is_hidden": "Hidden",
                  "ai_summary": "AI summary", "ai_keywords": "AI keywords"}
        widgets = {"title": forms.TextInput(attrs={"class": "vLargeTextField", "size": 100})}
        formfield_callback = _https_links

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["authors"] = "\n".join(self.instance.authors or [])

    def clean_arxiv_id(self) -> str | None:
        raw = self.cleaned_data.get("arxiv_id") or ""
        if not raw.strip():
            return None  # no id: unique only among papers that have one
        arxiv_id = normalise_arxiv_id(raw)
        if not arxiv_id or not ARXIV_ID_RE.fullmatch(arxiv_id):
            raise forms.ValidationError(
                "“%(value)s” is not an arXiv id: give one like 2410.23168 "
                "(with a version, or an arxiv.org link, is fine).",
                params={"value": raw.strip()[:60]},
                code="arxiv_id",
            )
        return arxiv_id

    def clean_authors(self) -> list[str]:
        return [" ".join(line.split()) for line in self.cleaned_data.get("authors", "").splitlines() if line.strip()]


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    form = PaperForm
    list_display = ("title", "arxiv_id", "listed_on", "upvotes", "is_featured", "is_hidden")
    list_display_links = ("title",)
    list_editable = ("is_featured", "is_hidden")
    list_filter = ("listed_on", "is_featured", "is_hidden")
    search_fields = ("title", "arxiv_id", "abstract")
    date_hierarchy = "listed_on"
    list_per_page = 50
    actions = ("feature", "unfeature", "hide", "unhide")
    readonly_fields = ("created_at", "updated_at")
    # Links pasted without a scheme are almost always https nowadays.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("title", "arxiv_id", "abstract", "authors", "is_featured", "is_hidden")}),
        ("Dates and popularity", {"fields": ("published_on", "listed_on", "upvotes", "github_stars", "num_comments")}),
        ("Links", {"fields": ("page_url", "pdf_url", "code_url", "project_url")}),
        ("From the sources", {
            "classes": ("collapse",),
            "fields": ("organization", "categories", "comment", "ai_summary", "ai_keywords"),
        }),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )

    change_list_template = "admin/digest/paper/change_list_with_import.html"

    def get_urls(self):
        own = [
            path("import/", self.admin_site.admin_view(self.import_view), name="digest_paper_import"),
            path("listing/", self.admin_site.admin_view(self.listing_view), name="digest_paper_listing"),
        ]
        return own + super().get_urls()

    LISTING_ACTIONS = ("feature", "unfeature", "hide", "unhide")

    def listing_view(self, request: HttpRequest) -> HttpResponse:
        """A listing day as a working view: each paper with the topics it matches and the
        readers it would reach; the bulk flags; how many of the day's digests went out."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            action = request.POST.get("action")
            ids = request.POST.getlist("paper")
            if action not in self.LISTING_ACTIONS:
                self.message_user(request, "Choose what to do with the selected papers.", messages.WARNING)
            elif not ids:
                self.message_user(request, "Select at least one paper.", messages.WARNING)
            else:
                chosen = Paper.objects.filter(pk__in=[pk for pk in ids if pk.isdigit()])
                getattr(self, action)(request, chosen)
            # Back to the same day, so a reload never repeats the action.
            return HttpResponseRedirect(request.get_full_path())
        try:
            day = dt.date.fromisoformat(request.GET["day"]) if request.GET.get("day") else None
        except ValueError:
            self.message_user(request, "That is not a date (YYYY-MM-DD): showing the latest listing day.",
                              messages.WARNING)
            day = None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Listing day",
            "listing": listing_day(day),
            "can_change": self.has_change_permission(request),
            "picks_cap": settings.EDITORS_PICKS_PER_DIGEST,
        }
        return TemplateResponse(request, "admin/digest/paper/listing.html", context)

    def import_view(self, request: HttpRequest) -> TemplateResponse:
        """The same importers and limits as `import_papers`, then its summary."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        summary = None
        background = ""  # "queued" when the vectors and topics are computed by a worker
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                parsed = parse_source(form.read(), data["fmt"], listed_on=data["listed_on"])
                summary = apply_records(parsed.items)
            except SourceError as error:
                form.add_error(None, " ".join(f"Nothing was imported: {error}".split()))
            else:
                if len(summary.to_embed) <= IMPORT_INLINE_PAPERS:
                    embed_imported(summary)
                else:
                    from .tasks import refresh_papers as refresh_task

                    background = "queued" if _queue(refresh_task, summary.to_file) else "unqueued"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import papers",
            "form": form,
            "summary": summary,
            "background": background,
            "unlisted": Paper.objects.filter(pk__in=summary.to_file, listed_on__isnull=True).count() if summary else 0,
        }
        return TemplateResponse(request, "admin/digest/paper/import.html", context)

    def save_model(self, request: HttpRequest, obj: Paper, form, change: bool) -> None:
        rewritten = not change or bool({"title", "abstract"} & set(form.changed_data))
        if rewritten:
            obj.embedding = None  # it meant the old text
        super().save_model(request, obj, form, change)
        if rewritten or {"is_hidden", "listed_on"} & set(form.changed_data):
            # One paper: its vector and topics while the page waits (well under a second).
            _, not_embedded = refresh_papers([obj.pk])
            if not_embedded:
                self.message_user(
                    request, f"Not embedded ({not_embedded}): matched by its words only.", messages.WARNING
                )

    def has_delete_permission(self, request: HttpRequest, obj: Paper | None = None) -> bool:
        # A paper that went out in a digest is part of the ledger: hide it instead. (The
        # bulk action is refused by the PROTECT on DigestItem.paper, with a list of why.)
        if obj is not None and obj.digest_items.exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # Curators paste ids as they find them (2410.23168v2, arXiv:2410.23168, an abs
        # URL); the catalog stores them without version or prefix.
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        arxiv_id = normalise_arxiv_id(search_term)
        if arxiv_id and arxiv_id != search_term.strip():
            results |= queryset.filter(arxiv_id=arxiv_id)
        return results, may_have_duplicates

    def _set_flags(self, request: HttpRequest, queryset: QuerySet, done: str, **flags: bool) -> None:
        # Each paper's history says who featured or hid it, as an edit on its page would
        # (one insert for them all: a bulk hide may be of thousands).
        changed = list(queryset.exclude(**flags).only("pk", "title"))
        # update() skips auto_now, so the timestamp is set with the flags.
        count = queryset.update(**flags, updated_at=timezone.now())
        if changed:
            LogEntry.objects.log_actions(request.user.pk, changed, CHANGE, f"{capfirst(done)} (bulk action).")
        self.message_user(request, f"{count} paper{'s' if count != 1 else ''} {done}.", messages.SUCCESS)

    @admin.action(description="Feature selected papers (editor's pick)")
    def feature(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_flags(request, queryset, "featured", is_featured=True)

    @admin.action(description="Stop featuring selected papers")
    def unfeature(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_flags(request, queryset, "no longer featured", is_featured=False)

    @admin.action(description="Hide selected papers (never shown or sent)")
    def hide(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_flags(request, queryset, "hidden", is_hidden=True)

    @admin.action(description="Unhide selected papers")
    def unhide(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_flags(request, queryset, "no longer hidden", is_hidden=False)


class TopicForm(forms.ModelForm):
    class Meta:
        model = Topic
        fields = ("name", "slug", "group", "description", "keywords", "is_active")
        labels = {"keywords": "Phrases"}
        widgets = {"keywords": forms.Textarea(attrs={"rows": 12, "cols": 60})}


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    form = TopicForm
    list_display = ("name", "slug", "group", "keyword_count", "is_active", "updated_at")
    list_editable = ("group", "is_active")
    list_filter = ("group", "is_active")
    search_fields = ("name", "description", "keywords")
    prepopulated_fields = {"slug": ("name",)}

    @admin.display(description="Keyword phrases")
    def keyword_count(self, topic: Topic) -> int:
        return len(topic.keyword_list)

    change_form_template = "admin/digest/topic/change_form_with_try.html"

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and "_try" in request.POST and object_id:
            return self.try_change_view(request, object_id)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def try_change_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """"Try this change": the edited form again, unsaved, with the papers of the last
        week its phrases would add and drop and the readers who follow the topic."""
        topic = self.get_object(request, object_id)
        if topic is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, topic):
            raise PermissionDenied
        # Read the phrases from a copy: the bound form below must not touch `topic`.
        form = self.get_form(request, topic)(request.POST, instance=Topic.objects.get(pk=topic.pk))
        phrases = [line.strip() for line in request.POST.get("keywords", "").splitlines() if line.strip()]
        trial = try_topic_phrases(topic, phrases) if phrases else None
        if not phrases:
            form.is_valid()  # shows "This field is required." on the phrases
        fieldsets = self.get_fieldsets(request, topic)
        admin_form = helpers.AdminForm(
            form, list(fieldsets), self.get_prepopulated_fields(request, topic),
            self.get_readonly_fields(request, topic), model_admin=self,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Change topic (trying, not saved)",
            "subtitle": str(topic),
            "adminform": admin_form,
            "object_id": object_id,
            "original": topic,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            "trial": trial,
        }
        return self.render_change_form(request, context, add=False, change=True, obj=topic)

    # What decides which papers a topic holds.
    FILING_FIELDS = frozenset({"name", "description", "keywords", "is_active"})

    def save_model(self, request: HttpRequest, obj: Topic, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # A renamed or redescribed topic means something else to the semantic matcher;
        # until it is embedded again its old vector is not used (see Topic.embedded_text).
        embed_topics([obj])
        if not change or self.FILING_FIELDS & set(form.changed_data):
            self._refile(request)

    def delete_model(self, request: HttpRequest, obj: Topic) -> None:
        super().delete_model(request, obj)
        self._refile(request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Topic]) -> None:
        super().delete_queryset(request, queryset)
        self._refile(request)

    def _refile(self, request: HttpRequest) -> None:
        """The papers' topics (pages, topic feeds) follow the change in the background:
        refiling the catalog takes longer than a page may wait."""
        from .tasks import refile_catalog

        if _queue_after_commit(request, refile_catalog):
            self.message_user(
                request,
                "The papers are being filed under the topics again in the background (the imports worker): "
                "the pages and topic feeds follow in a few minutes (without a worker running, run "
                "manage.py file_papers).",
                messages.INFO,
            )


class CuratedRelatedTermsForm(forms.ModelForm):
    class Meta:
        model = CuratedRelatedTerms
        fields = ("concept", "synonyms", "narrower")
        widgets = {
            "synonyms": forms.Textarea(attrs={"rows": 3, "cols": 80}),
            "narrower": forms.Textarea(attrs={"rows": 6, "cols": 80}),
        }

    def clean(self):
        data = super().clean()
        for name in ("concept", "synonyms", "narrower"):
            if "|" in (data.get(name) or ""):
                # The shipped list's field separator: a term holding one would be two.
                self.add_error(name, "A term cannot hold “|”: separate terms with semicolons.")
        concept = (data.get("concept") or "").strip()
        if concept and ";" in concept:
            self.add_error("concept", "One concept per line: put other names under Synonyms.")
        key = concept_key(concept)
        if concept and len(key) < 2:
            self.add_error("concept", "Type a concept of at least two letters or digits.")
        elif len(key) > CuratedRelatedTerms._meta.get_field("concept_key").max_length:
            self.add_error("concept", "Type a shorter concept: what a reader would type as a keyword.")
        elif concept:
            taken = CuratedRelatedTerms.objects.filter(concept_key=key).exclude(pk=self.instance.pk).first()
            if taken is not None:
                self.add_error("concept", f"“{taken.concept}” is already curated (case, hyphens and plurals aside): edit it.")
        return data


@admin.register(CuratedRelatedTerms)
class CuratedRelatedTermsAdmin(admin.ModelAdmin):
    """Related terms the curators add to the shipped list or put in place of its line."""

    form = CuratedRelatedTermsForm
    list_display = ("concept", "term_count", "replaces_shipped", "updated_at")
    search_fields = ("concept", "synonyms", "narrower")
    readonly_fields = ("shipped_line",)
    fields = ("concept", "shipped_line", "synonyms", "narrower")

    @admin.display(description="Terms")
    def term_count(self, line: CuratedRelatedTerms) -> int:
        _, synonyms, narrower = line.line
        return len(synonyms) + len(narrower)

    @admin.display(description="Replaces the shipped reading", boolean=True)
    def replaces_shipped(self, line: CuratedRelatedTerms) -> bool:
        return shipped_reading(line.concept) is not None

    @admin.display(description="The shipped list's line")
    def shipped_line(self, line: CuratedRelatedTerms) -> str:
        """What the shipped list reads for this concept today, which this line takes the
        place of (copy terms from it to keep them)."""
        if line.pk is None:
            return "Shown once saved: a line for a concept the shipped list knows replaces that line entirely."
        reading = shipped_reading(line.concept)
        if reading is None:
            return "None: this concept is new (saved, it adds to the shipped list)."
        as_synonym, (concept, synonyms, narrower) = reading
        text = f"{concept} | {'; '.join(synonyms)} | {'; '.join(narrower)}"
        if as_synonym:
            return (
                f"Read today as another name for “{concept}”, whose line is: {text}. This line is read "
                f"instead for “{line.concept}” (“{concept}” keeps its own)."
            )
        return text

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError:
            # Another curator saved the same concept between this form's check and its
            # save (the whole save was rolled back). Checked again, the form says so and
            # keeps what this curator typed.
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: CuratedRelatedTerms, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        terms = related_terms(obj.concept, current_related_table())
        if not terms:
            looks_for = "now looks for no related terms"
        else:
            listed = ", ".join(terms[:6]) + (", …" if len(terms) > 6 else "")
            looks_for = f"now also looks for {len(terms)} related term{'s' if len(terms) != 1 else ''} ({listed})"
        self.message_user(
            request,
            f"A reader's keyword “{obj.concept}” {looks_for}, from the next digests and previews on.",
            messages.INFO,
        )


# ---------------------------------------------------------------------------------------
# Digest admin: added here by the digest-sending work. Paper and Topic admin end above.
# ---------------------------------------------------------------------------------------


class DigestItemInline(admin.TabularInline):
    model = DigestItem
    fields = ("rank", "paper", "score", "topic", "why")
    readonly_fields = fields
    ordering = ("rank",)
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The read-only paper and topic columns would otherwise cost two queries a row.
        return super().get_queryset(request).select_related("paper", "topic")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Why")
    def why(self, item: DigestItem) -> str:
        return " · ".join(str(line) for line in item.matched or ())


class DayFilter(admin.SimpleListFilter):
    """One day of the ledger, from the last two weeks. Computed from the calendar, not
    from the rows: the date hierarchy's DISTINCT over every period read the whole table."""

    title = "day"
    parameter_name = "day"
    days = 14

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        today = timezone.localdate()
        names = {0: "Today", 1: "Yesterday"}
        return [
            ((today - dt.timedelta(days=n)).isoformat(), names.get(n) or f"{today - dt.timedelta(days=n):%a %d %b}")
            for n in range(self.days)
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() is None:
            return queryset
        try:
            return queryset.filter(period=dt.date.fromisoformat(self.value()))
        except ValueError:
            return queryset.none()


class DeliveryFilter(admin.SimpleListFilter):
    """Where a digest stands in delivery, including what `status` alone cannot tell: a
    claim past its lease (its worker died; the sweeper hands it out again)."""

    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [
            ("waiting", "Pending (queued or waiting for a retry)"),
            ("in_flight", "In flight (claimed, within its lease)"),
            ("stuck", "Stuck past its lease"),
            ("retried", "Retried (more than one attempt)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        lease_start = timezone.now() - claim_lease()
        match self.value():
            case "waiting":
                return queryset.filter(status=Digest.Status.PENDING)
            case "in_flight":
                return queryset.filter(status=Digest.Status.SENDING, claimed_at__gte=lease_start)
            case "stuck":
                return queryset.filter(status=Digest.Status.SENDING, claimed_at__lt=lease_start)
            case "retried":
                return queryset.filter(attempts__gt=1)
        return queryset


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    """Watch sends: the ledger is written by the pipeline, never edited by hand."""

    list_display = (
        "subscriber_email", "period", "status", "paper_count", "attempts", "uncertain", "claimed_at", "sent_at",
        "short_error", "view_in_browser",
    )
    list_filter = ("status", DeliveryFilter, "uncertain", "failure", DayFilter, "period")
    search_fields = ("subscriber__email",)  # how, see get_search_results
    search_help_text = "A reader's address (or part of it), or a whole Message-ID in <angle brackets>."
    list_select_related = ("subscriber",)
    # The ledger grows by a row per reader per day: only orders an index serves (the
    # default, newest period first), no count of the whole table on filtered pages.
    sortable_by = ("period",)
    show_full_result_count = False
    list_per_page = 50
    inlines = (DigestItemInline,)
    fields = (
        "subscriber", "period", "status", "failure", "uncertain", "subject", "message_id", "attempts",
        "last_error", "created_at", "claimed_at", "next_attempt_at", "sent_at", "view_in_browser",
    )
    readonly_fields = fields

    actions = ("retry_failed",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        # Rows are never edited by hand; retrying goes through the pipeline's own claim.
        return request.user.has_perm("digest.change_digest")

    @admin.action(description="Retry the selected failed digests", permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        from .tasks import enqueue_digest_sends  # tasks import this app's modules

        ids = requeue_failed(queryset.values_list("pk", flat=True))
        if not ids:
            self.message_user(request, "No failed digest among the selected: nothing to retry.", messages.WARNING)
            return
        enqueue_digest_sends(ids)
        plural = "s" if len(ids) != 1 else ""
        self.message_user(request, f"{len(ids)} failed digest{plural} queued to be sent again.", messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Deleting a row would make its subscriber due again: the next tick would send
        # the same papers a second time. Nobody deletes from the ledger.
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # Readers are found among the subscribers (thousands of rows) and their digests by
        # index; a substring search joined over the whole ledger reads every row.
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith("<") and term.endswith(">"):
            return queryset.filter(message_id=term), False
        readers = Subscriber.objects.filter(email__icontains=term).values("pk")
        return queryset.filter(subscriber__in=readers), False

    @admin.display(description="Subscriber")
    def subscriber_email(self, digest: Digest) -> str:
        return digest.subscriber.email

    @admin.display(description="Last error")
    def short_error(self, digest: Digest) -> str:
        error = digest.last_error
        return error if len(error) <= 80 else error[:79] + "…"

    @admin.display(description="View")
    def view_in_browser(self, digest: Digest) -> str:
        if digest.status != Digest.Status.SENT:
            return "-"  # nothing was sent
        return format_html('<a href="{}" target="_blank" rel="noopener">view in browser</a>',
                           reverse("digest:view", args=[view_token(digest)]))


@admin.register(TickRun)
class TickRunAdmin(admin.ModelAdmin):
    """The sends dashboard, in place of a list of runs: counts only, no reader's name,
    so Curators see it too (data migration 0013)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        return [path("", self.admin_site.admin_view(self.changelist_view), name="digest_tickrun_changelist")]

    def changelist_view(self, request: HttpRequest, extra_context=None) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        dashboard = sends_dashboard()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Sends dashboard",
            "dashboard": dashboard,
            "days_newest_first": list(reversed(dashboard.days)),
            "outcomes_chart": stacked_bars_svg(dashboard.days),
            "legend": legend(),
            "runs_chart": run_seconds_svg(dashboard.runs),
            "can_see_digests": request.user.has_perm("digest.view_digest"),
        }
        return TemplateResponse(request, "admin/digest/dashboard.html", context)
