#!/usr/bin/python3
"""Pretrain the bundled tiny ViT (assets/models/vit-tiny-fmnist/) on Fashion-MNIST classes 0-4.

Why this exists: no pretrained ViT weights are available offline (shared/docs/environment.md section 12.2), and the
demo needs a backbone whose features transfer. We pretrain on classes 0-4 only so that fine-tuning on the held-out
classes 5-9 is real transfer, not memorisation.

The model is written in plain torch (no `transformers` on Debian bookworm) but with HuggingFace
ViTForImageClassification parameter names and semantics (pre-LN, exact GELU, CLS token, LayerNorm eps 1e-12,
classifier on the CLS token after the final LayerNorm), so the folder loads like any HF ViT checkpoint.

Run with Debian's interpreter:  nice /usr/bin/python3 tools/pretrain_vit.py
Outputs: assets/models/vit-tiny-fmnist/{config.json, model.safetensors, preprocessor_config.json, PROVENANCE.md}
         test/fixtures/vit/golden.json (torch logits of the first 16 test images of classes 0-4, with their pixels)
"""

import gzip
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"
OUT = os.path.join(ROOT, "assets", "models", "vit-tiny-fmnist")
GOLDEN = os.path.join(ROOT, "test", "fixtures", "vit", "golden.json")
if os.environ.get("PRETRAIN_SMOKE"):  # a 3-step dry run into /tmp, to check the script before the long run
    OUT, GOLDEN = "/tmp/vit-smoke", "/tmp/vit-smoke/golden.json"

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]  # Fashion-MNIST labels 0-4
MEAN, STD = 0.2860, 0.3530

HP = dict(
    image_size=28,
    patch_size=7,
    num_channels=1,
    hidden_size=64,
    num_hidden_layers=4,
    num_attention_heads=4,
    intermediate_size=128,
    layer_norm_eps=1e-12,
    seed=0,
    steps=1500,
    batch_size=128,
    lr=3e-3,
    warmup_steps=100,
    weight_decay=0.05,
    betas=(0.9, 0.999),
    grad_clip=1.0,
    augment="random horizontal flip (p=0.5)",
    schedule="linear warmup then cosine to 0",
    threads=2,
)
if os.environ.get("PRETRAIN_SMOKE"):
    HP["steps"] = 3


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)
    if magic == 0x801:
        return np.frombuffer(raw, dtype=np.uint8, offset=8).reshape(n)
    raise ValueError(f"{path}: bad IDX magic {magic:#x}")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Attention(nn.Module):
    def __init__(self, h, heads):
        super().__init__()
        self.heads = heads
        # HF ViTAttention: .attention.{query,key,value} and .output.dense
        self.attention = nn.Module()
        self.attention.query = nn.Linear(h, h)
        self.attention.key = nn.Linear(h, h)
        self.attention.value = nn.Linear(h, h)
        self.output = nn.Module()
        self.output.dense = nn.Linear(h, h)

    def forward(self, x):
        b, t, h = x.shape
        d = h // self.heads

        def split(y):
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q = split(self.attention.query(x))
        k = split(self.attention.key(x))
        v = split(self.attention.value(x))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        y = (a @ v).transpose(1, 2).reshape(b, t, h)
        return self.output.dense(y)


class Layer(nn.Module):
    def __init__(self, h, heads, mlp, eps):
        super().__init__()
        self.attention = Attention(h, heads)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(h, mlp)
        self.output = nn.Module()
        self.output.dense = nn.Linear(mlp, h)
        self.layernorm_before = nn.LayerNorm(h, eps=eps)
        self.layernorm_after = nn.LayerNorm(h, eps=eps)

    def forward(self, x):
        x = x + self.attention(self.layernorm_before(x))
        # exact (erf) GELU, as HF hidden_act "gelu"
        return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))


class ViT(nn.Module):
    def __init__(self, c, n_classes):
        super().__init__()
        h, p = c["hidden_size"], c["patch_size"]
        n_patches = (c["image_size"] // p) ** 2
        self.vit = nn.Module()
        self.vit.embeddings = nn.Module()
        self.vit.embeddings.cls_token = nn.Parameter(torch.zeros(1, 1, h))
        self.vit.embeddings.position_embeddings = nn.Parameter(torch.zeros(1, n_patches + 1, h))
        self.vit.embeddings.patch_embeddings = nn.Module()
        self.vit.embeddings.patch_embeddings.projection = nn.Conv2d(c["num_channels"], h, p, stride=p)
        self.vit.encoder = nn.Module()
        self.vit.encoder.layer = nn.ModuleList(
            Layer(h, c["num_attention_heads"], c["intermediate_size"], c["layer_norm_eps"])
            for _ in range(c["num_hidden_layers"])
        )
        self.vit.layernorm = nn.LayerNorm(h, eps=c["layer_norm_eps"])
        self.classifier = nn.Linear(h, n_classes)
        # HF ViT init: truncated normal (std = initializer_range 0.02) for linear/conv and both embeddings.
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.vit.embeddings.cls_token, std=0.02)
        nn.init.trunc_normal_(self.vit.embeddings.position_embeddings, std=0.02)

    def forward(self, x):
        e = self.vit.embeddings
        t = e.patch_embeddings.projection(x).flatten(2).transpose(1, 2)
        t = torch.cat([e.cls_token.expand(x.shape[0], -1, -1), t], dim=1) + e.position_embeddings
        for layer in self.vit.encoder.layer:
            t = layer(t)
        return self.classifier(self.vit.layernorm(t)[:, 0])


def write_safetensors(path, tensors):
    """safetensors by hand (no package on Debian): u64 LE header length, JSON header, raw LE data."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().cpu().numpy().astype("<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)  # pad so the data starts 8-byte aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def main():
    torch.set_num_threads(HP["threads"])
    torch.manual_seed(HP["seed"])
    rng = np.random.default_rng(HP["seed"])
    files = {
        k: os.path.join(DATA, f"{k}-ubyte.gz")
        for k in ["train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1"]
    }
    xtr, ytr = read_idx(files["train-images-idx3"]), read_idx(files["train-labels-idx1"])
    xte, yte = read_idx(files["t10k-images-idx3"]), read_idx(files["t10k-labels-idx1"])
    mtr, mte = ytr < 5, yte < 5
    test_idx = np.nonzero(mte)[0]
    xtr, ytr, xte, yte = xtr[mtr], ytr[mtr], xte[mte], yte[mte]

    def prep(x):
        return ((torch.from_numpy(x.astype(np.float32)) / 255.0 - MEAN) / STD).unsqueeze(1)

    Xtr, Ytr = prep(xtr), torch.from_numpy(ytr.astype(np.int64))
    Xte, Yte = prep(xte), torch.from_numpy(yte.astype(np.int64))
    print(f"train {len(Ytr)}  test {len(Yte)}", flush=True)

    model = ViT(HP, len(CLASSES))
    n_params = sum(p.numel() for p in model.parameters())
    # No weight decay on biases, LayerNorm and embeddings (standard ViT practice).
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embeddings.cls" not in n and "position" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embeddings.cls" not in n and "position" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": HP["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=HP["lr"],
        betas=HP["betas"],
    )

    def lr_at(s):
        if s < HP["warmup_steps"]:
            return HP["lr"] * (s + 1) / HP["warmup_steps"]
        q = (s - HP["warmup_steps"]) / max(1, HP["steps"] - HP["warmup_steps"])
        return HP["lr"] * 0.5 * (1 + math.cos(math.pi * q))

    t0 = time.time()
    model.train()
    for step in range(HP["steps"]):
        idx = torch.from_numpy(rng.integers(0, len(Ytr), HP["batch_size"]))
        x, y = Xtr[idx], Ytr[idx]
        flip = torch.from_numpy(rng.random(HP["batch_size"]) < 0.5)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), HP["grad_clip"])
        opt.step()
        if step % 100 == 0 or step == HP["steps"] - 1:
            el = time.time() - t0
            eta = el / (step + 1) * (HP["steps"] - step - 1)
            print(f"step {step} loss {loss.item():.4f} elapsed {el:.0f}s eta {eta:.0f}s", flush=True)
    train_s = time.time() - t0

    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(Xte[i : i + 500]) for i in range(0, len(Yte), 500)])
    correct = int((logits.argmax(1) == Yte).sum())
    acc = 100.0 * correct / len(Yte)
    print(f"test accuracy (classes 0-4): {acc:.2f}% ({correct}/{len(Yte)}), train {train_s:.0f}s", flush=True)

    os.makedirs(OUT, exist_ok=True)
    st_path = os.path.join(OUT, "model.safetensors")
    write_safetensors(st_path, dict(model.named_parameters()))
    config = {
        "architectures": ["ViTForImageClassification"],
        "model_type": "vit",
        "image_size": HP["image_size"],
        "patch_size": HP["patch_size"],
        "num_channels": HP["num_channels"],
        "hidden_size": HP["hidden_size"],
        "num_hidden_layers": HP["num_hidden_layers"],
        "num_attention_heads": HP["num_attention_heads"],
        "intermediate_size": HP["intermediate_size"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.02,
        "layer_norm_eps": HP["layer_norm_eps"],
        "qkv_bias": True,
        "encoder_stride": HP["patch_size"],
        "id2label": {str(i): c for i, c in enumerate(CLASSES)},
        "label2id": {c: i for i, c in enumerate(CLASSES)},
        "torch_dtype": "float32",
    }
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    pre = {
        "image_processor_type": "ViTImageProcessor",
        "do_resize": False,
        "size": {"height": HP["image_size"], "width": HP["image_size"]},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [MEAN],
        "image_std": [STD],
    }
    with open(os.path.join(OUT, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2)
        f.write("\n")

    # Golden logits: the pixels travel with the fixture so the check runs where the dataset is absent.
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    golden = {
        "description": "torch float32 logits of the first 16 Fashion-MNIST test images with label 0-4 "
        "(t10k order), from tools/pretrain_vit.py; pixels are raw uint8 row-major 28x28",
        "model_sha256": sha256(st_path),
        "test_accuracy_pct": acc,
        "test_correct": correct,
        "test_count": len(Yte),
        "samples": [
            {
                "test_index": int(test_idx[i]),
                "label": int(yte[i]),
                "pixels": xte[i].reshape(-1).tolist(),
                "logits": [float(v) for v in logits[i].tolist()],
            }
            for i in range(16)
        ],
    }
    with open(GOLDEN, "w") as f:
        json.dump(golden, f)
        f.write("\n")

    try:
        deb = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "dataset-fashion-mnist"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        deb = "unknown"
    hp_lines = "\n".join(f"| {k} | {v} |" for k, v in HP.items())
    data_lines = "\n".join(f"| `{os.path.basename(p)}` | `{sha256(p)}` |" for p in files.values())
    prov = f"""# vit-tiny-fmnist: provenance

A tiny ViT pretrained from scratch by `tools/pretrain_vit.py` (plain torch, HuggingFace ViTForImageClassification
parameter names) on Fashion-MNIST **classes 0-4 only** ({", ".join(CLASSES)}). Classes 5-9 are held out so that
fine-tuning on them in the demo is real transfer.

- Licence: MIT (weights and script); the training data is Fashion-MNIST (Zalando, MIT/Expat).
- Data: Debian package `dataset-fashion-mnist` version `{deb}`, files under `{DATA}`:

| file | sha256 |
|---|---|
{data_lines}

- Preprocessing: x / 255, then (x - {MEAN}) / {STD}; no resize (28x28, 1 channel).
- Parameters: {n_params:,} ({n_params * 4:,} bytes as F32).
- Torch: {torch.__version__}, Python {sys.version.split()[0]}, {HP["threads"]} threads.

## Hyperparameters

| name | value |
|---|---|
{hp_lines}

## Result

- Steps: {HP["steps"]} at batch {HP["batch_size"]}; training wall time {train_s:.0f} s on a shared 2-core VM.
- Test accuracy on the Fashion-MNIST test split, classes 0-4 (torch, float32): **{acc:.2f} %** ({correct}/{len(Yte)}).
- `model.safetensors` sha256: `{sha256(st_path)}`
- Golden logits for our ONNX graph: `test/fixtures/vit/golden.json`.
"""
    with open(os.path.join(OUT, "PROVENANCE.md"), "w") as f:
        f.write(prov)
    print("wrote", OUT, flush=True)


if __name__ == "__main__":
    main()
