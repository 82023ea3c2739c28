"""Validation of everything a person can type into the subscription pages.

Every text field refuses line breaks and other control characters, so no value can ever
start a new email header or smuggle invisible text into a digest.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils import timezone

from digest.models import Topic
from digest.text import FUNCTION_WORDS, is_abbreviation, words

from .models import WEEKDAYS, Subscriber, normalise_email

MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 60
MAX_AUTHORS = 20
MAX_AUTHOR_LENGTH = 100
MIN_PAPERS = 5
MAX_PAPERS = 50
MAX_PAUSE_DAYS = 366

# C0 and C1 controls (including CR, LF, TAB), line and paragraph separators, and the
# bidirectional overrides that can make text display differently from what it is.
_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# After NFKC the full-width "，" and "；" are these too; "、" is the ideographic comma.
_PHRASE_SEPARATORS = re.compile(r"[,;\u3001]")
# Characters with no width that come along when text is pasted from a web page or a PDF:
# a keyword holding one looks like the word but would never match the papers' text. (A
# zero-width space separates words; the others join them or mean nothing.)
_ZERO_WIDTH_SPACE = "\u200b"
_INVISIBLE = re.compile("[\u00ad\u2060\ufeff]")
_TYPOGRAPHIC_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})


def _with_control_character_check(validators: list) -> list:
    """Our check first; Django's own NUL check would only say the same thing twice."""
    return [reject_control_characters] + [
        v for v in validators if not isinstance(v, ProhibitNullCharactersValidator)
    ]


def reject_control_characters(value: Any) -> None:
    if isinstance(value, str) and _FORBIDDEN_CHARACTERS.search(value):
        raise ValidationError(
            "This can't contain line breaks, tabs or other control characters.",
            code="control_characters",
        )


@cache
def time_zone_names() -> tuple[str, ...]:
    """IANA names a person can choose, as the system's tz database knows them."""
    ignored = {"Factory", "localtime", "posixrules"}
    return tuple(sorted(name for name in zoneinfo.available_timezones() if name not in ignored))


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in time_zone_names()]


def _outside_quotes(text: str) -> list[str]:
    """`text` split at the phrase separators outside double quotes: '"fast, accurate"'
    is one phrase. A last quote left open quotes nothing: it is dropped ('"LoRA' is
    "LoRA"), and the pairs before it keep their commas."""
    if text.count('"') % 2:
        last_open = text.rfind('"')
        text = text[:last_open] + text[last_open + 1 :]
    parts, start, quoted = [], 0, False
    for at, character in enumerate(text):
        if character == '"':
            quoted = not quoted
        elif not quoted and _PHRASE_SEPARATORS.fullmatch(character):
            parts.append(text[start:at])
            start = at + 1
    parts.append(text[start:])
    return parts


def split_phrases(text: str) -> list[str]:
    """`LoRA; diffusion models, , lora` is ["LoRA", "diffusion models"]: split on commas
    and semicolons, whitespace tidied, empty items and repeats (any case) dropped."""
    phrases: list[str] = []
    seen: set[str] = set()
    # NFKC: full-width letters typed with a CJK input method ("ｄｉｆｆｕｓｉｏｎ") and
    # ligatures ("ﬁne-tuning") are the plain letters, for the embedding model too.
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text).replace(_ZERO_WIDTH_SPACE, " "))
    text = text.translate(_TYPOGRAPHIC_QUOTES)  # “fast, accurate”, as phones type quotes
    for raw in _outside_quotes(text):
        phrase = " ".join(raw.split())
        if phrase and phrase.casefold() not in seen:
            seen.add(phrase.casefold())
            phrases.append(phrase)
    return phrases


class PhraseListField(forms.CharField):
    """A text input holding phrases separated by commas or semicolons; cleans to a list."""

    def __init__(
        self, *, item_name: str, max_items: int, max_item_length: int, needs_telling_word: bool = False, **kwargs: Any
    ) -> None:
        self.item_name = item_name
        self.needs_telling_word = needs_telling_word
        self.max_items = max_items
        self.max_item_length = max_item_length
        kwargs.setdefault("required", False)
        # A hard cap on what is read at all, well above what the limits below allow, so
        # that a pasted list one too long gets "at most 20 keywords: you entered 27"
        # rather than being cut mid-word by the browser (no maxlength on the input).
        kwargs.setdefault("max_length", 4 * max_items * (max_item_length + 2))
        kwargs.setdefault(
            "error_messages",
            {
                "max_length": f"That is too long to read: at most {max_items} {item_name}s, "
                f"each up to {max_item_length} characters."
            },
        )
        super().__init__(**kwargs)
        self.validators = _with_control_character_check(self.validators)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return ", ".join(value)
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        # The stored list against the list the typed text cleans to: "LoRA" shown as
        # "LoRA" and posted back unchanged is no change (the admin's history says so).
        try:
            cleaned = self.clean(data)
        except ValidationError:
            return True
        stored = initial if isinstance(initial, (list, tuple)) else split_phrases(initial or "")
        return cleaned != list(stored)

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value)
        phrases = split_phrases(text)
        if len(phrases) > self.max_items:
            raise ValidationError(
                f"At most {self.max_items} {self.item_name}s, please: you entered {len(phrases)}.",
                code="too_many",
            )
        for phrase in phrases:
            if not any(character.isalnum() for character in phrase):
                # "!!!" or "🤖" would be saved and never match: a subscription promised a
                # digest that never comes.
                raise ValidationError(
                    f"Each {self.item_name} needs a letter or a digit: “{phrase[:40]}” has none.",
                    code="no_word",
                )
            if self.needs_telling_word and _only_function_words(phrase):
                # "the" or "a; of" would be saved, find nothing on any day, and the
                # preview would blame a quiet day.
                raise ValidationError(
                    f"“{phrase[:40]}” is made of words nearly every paper uses, so it can't pick papers out: "
                    f"add what the papers are about (“the transformer”, not “the”).",
                    code="common_words",
                )
            if len(phrase) > self.max_item_length:
                raise ValidationError(
                    f"Each {self.item_name} can be at most {self.max_item_length} characters long: "
                    f"“{phrase[:40]}…” has {len(phrase)}.",
                    code="too_long",
                )
        return phrases


def _only_function_words(phrase: str) -> bool:
    # A keyword made of words every abstract writes can never match.
    # "US" (ultrasound) or "OR" (operations research) typed in capitals are names.
    found = [word for group in words(phrase) for word in group]
    return bool(found) and all(word.casefold() in FUNCTION_WORDS and not is_abbreviation(word) for word in found)


class KeywordSelectionField(forms.Field):
    """Some of the typed keywords, ticked one by one (the "remove" boxes next to a
    keyword's suggested topic); cleans to a list of strings."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        values = value if isinstance(value, (list, tuple)) else [value]
        cleaned = []
        for item in values:
            if not isinstance(item, str):
                raise ValidationError("Choose among the keywords you typed.", code="invalid")
            reject_control_characters(item)
            item = " ".join(item.split())
            if len(item) > MAX_KEYWORD_LENGTH:
                raise ValidationError("Choose among the keywords you typed.", code="invalid")
            if item:
                cleaned.append(item)
        return cleaned[:MAX_KEYWORDS]


class LeftOutTermsField(forms.Field):
    """The related terms a reader left out, one box each, whose value is the JSON pair
    ["keyword", "term"] (a keyword may hold any character but a control one); cleans to
    a list of (keyword, term) tuples."""

    widget = forms.MultipleHiddenInput
    MAX_PAIRS = 400  # twenty keywords of twenty terms
    MAX_TERM_LENGTH = 500  # a curator's term is free text; this only bounds what is stored

    def to_python(self, value: Any) -> list[tuple[str, str]]:
        if not value:
            return []
        values = value if isinstance(value, (list, tuple)) else [value]
        cleaned: list[tuple[str, str]] = []
        for item in values[: self.MAX_PAIRS]:
            if isinstance(item, (list, tuple)):  # the form's initial values
                pair = list(item)
            else:
                try:
                    pair = json.loads(item)
                except (TypeError, ValueError):
                    raise ValidationError("Choose among the related terms shown.", code="invalid") from None
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                raise ValidationError("Choose among the related terms shown.", code="invalid")
            keyword, term = (" ".join(p.split()) for p in pair)
            for part in (keyword, term):
                reject_control_characters(part)
            if len(keyword) > MAX_KEYWORD_LENGTH or len(term) > self.MAX_TERM_LENGTH:
                raise ValidationError("Choose among the related terms shown.", code="invalid")
            if keyword and term and (keyword, term) not in cleaned:
                cleaned.append((keyword, term))
        return cleaned


class NormalisedEmailField(forms.EmailField):
    default_error_messages = {
        "invalid": "Enter an email address like name@example.org.",
        "required": "Enter your email address.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)
        self.validators = _with_control_character_check(self.validators)
        self.widget.attrs.update({"autocomplete": "email", "spellcheck": "false", "autocapitalize": "off"})

    def to_python(self, value: Any) -> str:
        # Checked before stripping, so "me@example.org\r\nBcc: …" is refused rather
        # than quietly trimmed into something else.
        reject_control_characters(value)
        address = normalise_email(super().to_python(value))
        # A quoted or escaped local part ("me"@, "m\e"@) and a domain literal (me@[10.0.0.1])
        # reach the same mailbox as a plain address while comparing unequal to it: they
        # would get past a suppression and the per-mailbox limits. Nobody signs up so.
        local, _, domain = address.rpartition("@")
        if '"' in local or "\\" in local or domain.startswith("["):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        # A non-ASCII mailbox name needs SMTPUTF8, which we do not send with; a domain
        # that is no domain name at all (not IDNA) would fail at sending.
        try:
            domain.encode("idna").decode("idna")
        except UnicodeError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not local.isascii():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return address


class TopicChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Topic) -> str:
        return obj.name


class PreferencesForm(forms.Form):
    """What a subscriber chooses: on the signup form and on the manage page."""

    topics = TopicChoiceField(
        queryset=Topic.objects.none(),
        label="Topics",
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "“%(value)s” is not one of the topics offered."},
    )
    keywords = PhraseListField(
        item_name="keyword",
        max_items=MAX_KEYWORDS,
        max_item_length=MAX_KEYWORD_LENGTH,
        needs_telling_word=True,
        label="Keywords",
        help_text="Words or phrases to look for in titles and abstracts, separated by commas "
        f"or semicolons, e.g. LoRA; protein folding. Up to {MAX_KEYWORDS}.",
    )
    authors = PhraseListField(
        item_name="author",
        max_items=MAX_AUTHORS,
        max_item_length=MAX_AUTHOR_LENGTH,
        label="Authors to follow",
        help_text=f"Optional. Names separated by commas or semicolons, e.g. Yoshua Bengio; Fei-Fei Li. Up to {MAX_AUTHORS}.",
    )
    excluded_keywords = PhraseListField(
        item_name="excluded keyword",
        max_items=MAX_KEYWORDS,
        max_item_length=MAX_KEYWORD_LENGTH,
        label="Leave out papers mentioning",
        help_text="Optional. Words or phrases separated by commas or semicolons.",
    )
    # Typed keywords to match only as typed, without the curated topic they suggest.
    unexpanded_keywords = KeywordSelectionField(required=False, label="Match only as typed")
    # Typed keywords to match without the related terms read for them.
    keywords_without_related = KeywordSelectionField(required=False, label="Match without related terms")
    # Single related terms left out of a keyword's: ["keyword", "term"] pairs.
    left_out_terms = LeftOutTermsField(required=False, label="Related terms left out")
    include_featured = forms.BooleanField(
        required=False, initial=True, label="Start each email with the editors' picks"
    )
    frequency = forms.ChoiceField(
        choices=Subscriber.Frequency.choices,
        initial=Subscriber.Frequency.DAILY,
        widget=forms.RadioSelect,
        label="How often",
        error_messages={"required": "Choose daily or weekly.", "invalid_choice": "Choose daily or weekly."},
    )
    weekday = forms.TypedChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        # Needed only for the weekly email (see clean): a daily reader need not send it.
        required=False,
        empty_value=None,
        initial=0,
        label="Day of the week",
        help_text="For the weekly email.",
        error_messages={"invalid_choice": "Choose a day of the week."},
    )
    delivery_time = forms.TimeField(
        initial=dt.time(7, 0),
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time", "step": 60}),
        label="Delivery time",
        help_text="Your local time, e.g. 07:00.",
        error_messages={"invalid": "Enter a time like 07:30.", "required": "Enter a time like 07:30."},
    )
    timezone = forms.ChoiceField(
        choices=time_zone_choices,
        initial="UTC",
        label="Time zone",
        error_messages={
            "invalid_choice": "“%(value)s” is not a time zone we know: choose one from the list, "
            "e.g. Europe/Berlin.",
            "required": "Choose your time zone.",
        },
    )
    max_papers = forms.IntegerField(
        min_value=MIN_PAPERS,
        max_value=MAX_PAPERS,
        initial=10,
        label="Papers per email",
        help_text=f"Between {MIN_PAPERS} and {MAX_PAPERS}.",
        error_messages={
            "invalid": f"Enter a whole number between {MIN_PAPERS} and {MAX_PAPERS}.",
            "required": f"Enter a whole number between {MIN_PAPERS} and {MAX_PAPERS}.",
            "min_value": f"At least {MIN_PAPERS} papers per email, please.",
            "max_value": f"At most {MAX_PAPERS} papers per email, please.",
        },
    )
    send_when_empty = forms.BooleanField(
        required=False,
        label="Email me on days with no matching papers, too",
        help_text="A short note saying nothing matched, so you know the service is working.",
    )
    email_format = forms.ChoiceField(
        choices=Subscriber.Format.choices,
        initial=Subscriber.Format.HTML,
        widget=forms.RadioSelect,
        label="Email format",
        error_messages={"invalid_choice": "Choose HTML or plain text."},
    )

    def __init__(self, *args: Any, lenient: bool = False, **kwargs: Any) -> None:
        """`lenient`: for the "see what you would get" preview, where nothing is stored
        and an empty field is fine (values that are there are still checked)."""
        super().__init__(*args, **kwargs)
        self.fields["topics"].queryset = Topic.objects.filter(is_active=True).order_by("name")
        self.fields["max_papers"].widget.attrs.update({"inputmode": "numeric"})
        self.lenient = lenient
        if lenient:
            for field in self.fields.values():
                field.required = False

    def topic_groups(self) -> list[tuple[str, list[Topic]]]:
        """The offered topics under their group's heading, groups in the editors' order,
        topics without a group last."""
        by_group: dict[str, list[Topic]] = {}
        for topic in self.fields["topics"].queryset:
            by_group.setdefault(topic.group, []).append(topic)
        labels = [*Topic.Group.choices, ("", "More topics")]
        return [(label, by_group[value]) for value, label in labels if value in by_group]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        typed = {k.casefold() for k in data.get("keywords") or ()}
        for choice in ("unexpanded_keywords", "keywords_without_related"):
            if choice in data:
                # Only keywords still in the list count (a removed keyword takes its choices along).
                data[choice] = [k for k in data[choice] if k.casefold() in typed]
        if "left_out_terms" in data:
            # Stored under the keyword as now typed ("Model Compression" after "model compression").
            as_typed = {k.casefold(): k for k in data.get("keywords") or ()}
            data["left_out_terms"] = [(as_typed[k.casefold()], t) for k, t in data["left_out_terms"] if k.casefold() in typed]
        interests = ("topics", "keywords", "authors")
        if not self.lenient and all(name in data for name in interests) and not any(data[n] for n in interests):
            # Nothing of the reader's own to match: the editors' picks alone come only on
            # the rare days an editor features a paper, so such a subscription was
            # confirmed, promised a digest "today", and then sent nothing.
            self.add_error(
                "topics",
                ValidationError(
                    "Choose at least one topic, keyword or author: without one, no paper would ever match.",
                    code="nothing_chosen",
                ),
            )
        if data.get("weekday") is None and "weekday" not in self.errors:
            if data.get("frequency") == Subscriber.Frequency.WEEKLY:
                self.add_error("weekday", ValidationError("Choose a day of the week.", code="required"))
            else:
                data["weekday"] = 0
        return data


class SubscribeForm(PreferencesForm):
    field_order = ["email"]

    email = NormalisedEmailField(label="Email address")
    # A field people never see; bots filling every input give themselves away.
    website = forms.CharField(required=False, label="Leave this field empty")

    @property
    def is_bot(self) -> bool:
        return bool((self.data.get("website") or "").strip())


class PauseForm(forms.Form):
    until = forms.DateField(
        required=False,
        label="Resume on (optional)",
        help_text="Leave empty to pause until you resume yourself.",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2025-09-01."},
    )

    def clean_until(self) -> dt.date | None:
        until = self.cleaned_data["until"]
        if until is None:
            return None
        today = timezone.localdate()
        if until <= today:
            raise ValidationError("Choose a date after today.", code="past")
        if until > today + dt.timedelta(days=MAX_PAUSE_DAYS):
            raise ValidationError("Choose a date within the next year.", code="too_far")
        return until


class ChangeEmailForm(forms.Form):
    new_email = NormalisedEmailField(label="New email address")

    def __init__(self, *args: Any, current: str, **kwargs: Any) -> None:
        self.current = current
        super().__init__(*args, **kwargs)

    def clean_new_email(self) -> str:
        address = self.cleaned_data["new_email"]
        if address == normalise_email(self.current):
            raise ValidationError("That is already your address.", code="same")
        return address


class RequestLinkForm(forms.Form):
    email = NormalisedEmailField(label="Email address")
    website = forms.CharField(required=False, label="Leave this field empty")

    @property
    def is_bot(self) -> bool:
        return bool((self.data.get("website") or "").strip())
