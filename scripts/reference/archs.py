"""PyTorch reference for Gemma 2, Gemma 3 (text), Phi-3 (longrope, partial rotary), SmolLM3 and Mistral's
sliding window: the new ops one by one with gradients, and the whole model forward of small test
checkpoints. Every model here is a plain re-implementation in torch of the semantics of transformers'
modeling files (modeling_gemma2.py, modeling_gemma3.py, modeling_phi3.py, modeling_smollm3.py,
modeling_mistral.py, modeling_ministral.py, modeling_rope_utils.py, masking_utils.py), written for this reference, computed on CPU
in float32.

Run with a Python that has torch (Debian's python3-torch 1.13 here):
    /usr/bin/python3 scripts/reference/archs.py
It rewrites test/fixtures/ops/*.safetensors and test/fixtures/models/{gemma2,gemma3,gemma3-multimodal,
phi3-longrope,smollm3,mistral-window,ministral-window}/ (config.json in the transformers 5 style, config.transformers4.json in
the transformers 4 style, model.safetensors, reference.safetensors, generation.json). Seeds are fixed, so a
rerun on the same torch reproduces the files.
"""

import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures")
torch.set_num_threads(1)


# ---- files ----

def save_safetensors(path, tensors):
    """The safetensors layout: u64 LE header length, JSON header (padded with spaces to 8 bytes), raw bytes."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        a = t.detach().contiguous().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[a.dtype]
        raw = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def save_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


# ---- ops ----

def rms_norm(x, w, eps, offset=0.0):
    """transformers' RMSNorm in float32: x·rsqrt(mean(x²) + eps), then ·w (Llama) or ·(1 + w) (Gemma)."""
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return h * (offset + w.float())


def soft_cap(x, cap):
    return torch.tanh(x / cap) * cap


def geglu(gate, up):
    return F.gelu(gate, approximate="tanh") * up


def swiglu(gate, up):
    return F.silu(gate) * up


def rope_inv_freq(dim, theta, scaling, seq_len):
    """modeling_rope_utils: default, linear and longrope inverse frequencies and the cos/sin scale."""
    shape = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    if scaling is not None and scaling["rope_type"] == "longrope":
        ext = scaling["long_factor"] if seq_len > scaling["original_max_position_embeddings"] else scaling["short_factor"]
        inv = 1.0 / (torch.tensor(ext, dtype=torch.float32) * theta ** shape)
        return inv, scaling["attention_factor"]
    inv = 1.0 / (theta ** shape)
    if scaling is not None and scaling["rope_type"] == "linear":
        inv = inv / scaling["factor"]
    return inv, 1.0


def rope_cos_sin(dim, theta, scaling, positions):
    """cos, sin [B, T, dim] for positions [B, T]: the long/short choice by this forward's largest position."""
    inv, att = rope_inv_freq(dim, theta, scaling, int(positions.max()) + 1)
    freqs = (inv[None, :, None].float() @ positions[:, None, :].float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * att, emb.sin() * att


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin):
    """x [B, heads, T, hd]; rotates the first cos.shape[-1] dims of each head (partial rotary), keeps the rest."""
    rot = cos.shape[-1]
    cos, sin = cos[:, None], sin[:, None]
    xr, xp = x[..., :rot], x[..., rot:]
    return torch.cat([xr * cos + rotate_half(xr) * sin, xp], dim=-1)


def attention(q, k, v, key_mask, scale, window=None, softcap=None, q_offset=0):
    """q [B, nh, T, hd], k, v [B, nkv, S, hd]; query t at position q_offset + t sees key s when s ≤ p, s > p −
    window (masking_utils' sliding_window_overlay) and key_mask[b, s]; scores soft-capped first (Gemma 2)."""
    B, nh, T, hd = q.shape
    S = k.shape[2]
    g = nh // k.shape[1]
    k = k.repeat_interleave(g, dim=1)
    v = v.repeat_interleave(g, dim=1)
    w = torch.matmul(q, k.transpose(2, 3)) * scale
    if softcap is not None:
        w = soft_cap(w, softcap)
    p = torch.arange(T)[:, None] + q_offset
    s = torch.arange(S)[None, :]
    allowed = s <= p
    if window is not None:
        allowed = allowed & (s > p - window)
    allowed = allowed[None, None] & key_mask[:, None, None, :].bool()
    w = w.masked_fill(~allowed, float("-inf"))
    w = torch.softmax(w.float(), dim=-1)
    return torch.matmul(w, v)


def causal_lm_loss(logits, labels):
    """transformers' ForCausalLMLoss: labels shifted by one, mean over the labels that are not −100."""
    shift = F.pad(labels, (0, 1), value=-100)[:, 1:]
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), shift.reshape(-1), ignore_index=-100)


# ---- models ----

class Model:
    """A decoder as named tensors (checkpoint keys) and a forward over them; subclasses define the layer."""

    def __init__(self, cfg, params):
        self.cfg = cfg
        self.p = params

    def embed(self, ids):
        return F.embedding(ids, self.p["model.embed_tokens.weight"])

    def head(self, h):
        w = self.p.get("lm_head.weight", self.p["model.embed_tokens.weight"])
        return h @ w.t()

    def final_norm(self, h):
        return rms_norm(h, self.p["model.norm.weight"], self.cfg["eps"])

    def forward(self, ids, key_mask, positions, cache=None):
        """Logits [B, T, V] and hidden states; with `cache` (a list of per-layer (k, v)), appends to it."""
        h = self.embed(ids)
        hidden = [h]
        offset = 0 if cache is None or not cache[0] else cache[0][0].shape[2]
        for i in range(self.cfg["layers"]):
            h = self.layer(i, h, key_mask, positions, cache, offset)
            hidden.append(h)
        h = self.final_norm(h)
        hidden[-1] = h
        return self.logits(self.head(h)), hidden

    def logits(self, x):
        return x

    def qkv(self, i, x):
        pre = f"model.layers.{i}.self_attn"
        return x @ self.p[f"{pre}.q_proj.weight"].t(), x @ self.p[f"{pre}.k_proj.weight"].t(), x @ self.p[f"{pre}.v_proj.weight"].t()

    def self_attention(self, i, x, key_mask, positions, cache, offset, window, scale, rope, softcap=None, qk_norm=None):
        c = self.cfg
        B, T, _ = x.shape
        q, k, v = self.qkv(i, x)
        q = q.view(B, T, c["heads"], c["hd"]).transpose(1, 2)
        k = k.view(B, T, c["kv"], c["hd"]).transpose(1, 2)
        v = v.view(B, T, c["kv"], c["hd"]).transpose(1, 2)
        if qk_norm is not None:
            q, k = qk_norm(q, k)
        if rope is not None:
            cos, sin = rope_cos_sin(rope["dim"], rope["theta"], rope["scaling"], positions)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            if len(cache[i]) == 0:
                cache[i].extend([k, v])
            else:
                cache[i][0] = torch.cat([cache[i][0], k], dim=2)
                cache[i][1] = torch.cat([cache[i][1], v], dim=2)
            k, v = cache[i]
        y = attention(q, k, v, key_mask, scale, window, softcap, q_offset=offset)
        return y.transpose(1, 2).reshape(B, T, -1) @ self.p[f"model.layers.{i}.self_attn.o_proj.weight"].t()


class Llama(Model):
    """Mistral (every layer windowed) and SmolLM3 (NoPE layers) are Llama with these switches."""

    def layer(self, i, h, key_mask, positions, cache, offset):
        c, p, pre = self.cfg, self.p, f"model.layers.{i}"
        rope = {"dim": c["hd"], "theta": c["theta"], "scaling": None} if c["rope_layers"][i] else None
        window = c["window"] if c["layer_types"][i] == "sliding_attention" else None
        x = rms_norm(h, p[f"{pre}.input_layernorm.weight"], c["eps"])
        h = h + self.self_attention(i, x, key_mask, positions, cache, offset, window, c["hd"] ** -0.5, rope)
        x = rms_norm(h, p[f"{pre}.post_attention_layernorm.weight"], c["eps"])
        m = swiglu(x @ p[f"{pre}.mlp.gate_proj.weight"].t(), x @ p[f"{pre}.mlp.up_proj.weight"].t())
        return h + m @ p[f"{pre}.mlp.down_proj.weight"].t()


class Gemma(Model):
    def embed(self, ids):
        e = super().embed(ids)
        return e * torch.tensor(self.cfg["hidden"] ** 0.5, dtype=e.dtype)

    def final_norm(self, h):
        return rms_norm(h, self.p["model.norm.weight"], self.cfg["eps"], 1.0)

    def logits(self, x):
        cap = self.cfg.get("final_softcap")
        return x if cap is None else soft_cap(x, cap)

    def layer(self, i, h, key_mask, positions, cache, offset):
        c, p, pre = self.cfg, self.p, f"model.layers.{i}"
        local = c["layer_types"][i] == "sliding_attention"
        rope = {"dim": c["hd"], "theta": c["local_theta"] if local and c["gemma3"] else c["theta"],
                "scaling": None if local else c["scaling"]}
        qk_norm = None
        if c["gemma3"]:
            def qk_norm(q, k):
                return (rms_norm(q, p[f"{pre}.self_attn.q_norm.weight"], c["eps"], 1.0),
                        rms_norm(k, p[f"{pre}.self_attn.k_norm.weight"], c["eps"], 1.0))
        norm = lambda x, name: rms_norm(x, p[f"{pre}.{name}.weight"], c["eps"], 1.0)
        a = self.self_attention(i, norm(h, "input_layernorm"), key_mask, positions, cache, offset,
                                c["window"] if local else None, c["query_pre_attn_scalar"] ** -0.5, rope,
                                c.get("attn_softcap"), qk_norm)
        h = h + norm(a, "post_attention_layernorm")
        x = norm(h, "pre_feedforward_layernorm")
        m = geglu(x @ p[f"{pre}.mlp.gate_proj.weight"].t(), x @ p[f"{pre}.mlp.up_proj.weight"].t())
        return h + norm(m @ p[f"{pre}.mlp.down_proj.weight"].t(), "post_feedforward_layernorm")


class Phi3(Model):
    def qkv(self, i, x):
        c = self.cfg
        qkv = x @ self.p[f"model.layers.{i}.self_attn.qkv_proj.weight"].t()
        nq, nk = c["heads"] * c["hd"], c["kv"] * c["hd"]
        return qkv[..., :nq], qkv[..., nq:nq + nk], qkv[..., nq + nk:]

    def layer(self, i, h, key_mask, positions, cache, offset):
        c, p, pre = self.cfg, self.p, f"model.layers.{i}"
        rope = {"dim": int(c["hd"] * c["partial_rotary_factor"]), "theta": c["theta"], "scaling": c["scaling"]}
        x = rms_norm(h, p[f"{pre}.input_layernorm.weight"], c["eps"])
        h = h + self.self_attention(i, x, key_mask, positions, cache, offset, c["window"], c["hd"] ** -0.5, rope)
        x = rms_norm(h, p[f"{pre}.post_attention_layernorm.weight"], c["eps"])
        gate, up = (x @ p[f"{pre}.mlp.gate_up_proj.weight"].t()).chunk(2, dim=-1)
        return h + (up * F.silu(gate)) @ p[f"{pre}.mlp.down_proj.weight"].t()


# ---- random checkpoints ----

def random_params(shapes, gen, std=0.15, norm_offset=1.0):
    """Matrices normal(0, std); norm weights perturbed around norm_offset (1 for Llama-style, 0 for Gemma's
    stored w) so that a bug in them shows."""
    out = {}
    for name, shape in shapes.items():
        if len(shape) == 1:
            out[name] = (norm_offset + 0.1 * torch.randn(shape, generator=gen)).requires_grad_()
        else:
            out[name] = (std * torch.randn(shape, generator=gen)).requires_grad_()
    return out


def decoder_shapes(c, attn, mlp, norms, head=True):
    s = {"model.embed_tokens.weight": [c["vocab"], c["hidden"]], "model.norm.weight": [c["hidden"]]}
    if head:
        s["lm_head.weight"] = [c["vocab"], c["hidden"]]
    for i in range(c["layers"]):
        for name, shape in {**attn, **mlp}.items():
            s[f"model.layers.{i}.{name}.weight"] = shape
        for name, size in norms.items():
            s[f"model.layers.{i}.{name}.weight"] = [size]
    return s


def qkvo(c):
    H, nq, nk = c["hidden"], c["heads"] * c["hd"], c["kv"] * c["hd"]
    return {"self_attn.q_proj": [nq, H], "self_attn.k_proj": [nk, H], "self_attn.v_proj": [nk, H], "self_attn.o_proj": [H, nq]}


def gated(c):
    H, I = c["hidden"], c["inter"]
    return {"mlp.gate_proj": [I, H], "mlp.up_proj": [I, H], "mlp.down_proj": [H, I]}


# ---- the reference batch and outputs ----

def reference_batch(vocab, T, pad, gen):
    """Batch 2 × T; row 1 right-padded by `pad` with its first 4 labels −100 (prompt-masked SFT)."""
    ids = torch.randint(3, vocab, (2, T), generator=gen)
    mask = torch.ones(2, T, dtype=torch.int64)
    mask[1, T - pad:] = 0
    labels = ids.clone()
    labels[1, T - pad:] = -100
    labels[1, :4] = -100
    return ids, mask, labels


def greedy(model, prompt, new_tokens):
    """Greedy decoding with a KV cache, as transformers' generate steps: each forward sees only the new
    tokens, so a longrope forward picks its factors by that step's position."""
    cache = [[] for _ in range(model.cfg["layers"])]
    ids = list(prompt)
    step = torch.tensor([prompt])
    mask = torch.ones(1, len(prompt), dtype=torch.int64)
    with torch.no_grad():
        for _ in range(new_tokens):
            start = len(ids) - step.shape[1]
            positions = torch.arange(start, len(ids))[None]
            logits, _ = model.forward(step, mask, positions, cache)
            nxt = int(logits[0, -1].argmax())
            ids.append(nxt)
            step = torch.tensor([[nxt]])
            mask = torch.ones(1, len(ids), dtype=torch.int64)
    return ids


def write_model(name, model, config5, config4, T, pad, gen, extra_tensors=None, key_map=None):
    d = os.path.join(ROOT, "models", name)
    save_json(os.path.join(d, "config.json"), config5)
    save_json(os.path.join(d, "config.transformers4.json"), config4)
    weights = {(key_map(k) if key_map else k): v for k, v in model.p.items()}
    save_safetensors(os.path.join(d, "model.safetensors"), {**weights, **(extra_tensors or {})})
    ids, mask, labels = reference_batch(model.cfg["vocab"], T, pad, gen)
    positions = torch.arange(T)[None].expand(2, T)
    logits, hidden = model.forward(ids, mask, positions)
    loss = causal_lm_loss(logits, labels)
    loss.backward()
    ref = {"input_ids": ids, "attention_mask": mask, "labels": labels, "logits": logits, "loss": loss.reshape([])}
    for i, h in enumerate(hidden):
        ref[f"hidden_states.{i}"] = h
    for k, v in model.p.items():
        ref[f"grad.{k}"] = v.grad
    save_safetensors(os.path.join(d, "reference.safetensors"), ref)
    prompt = [int(x) for x in torch.randint(3, model.cfg["vocab"], (6,), generator=gen)]
    out = greedy(model, prompt, 20)
    save_json(os.path.join(d, "generation.json"), {"prompt_ids": prompt, "greedy_ids": out, "max_new_tokens": 20})
    print(f"{name}: loss {loss.item():.6f}, greedy {out[6:]}")


# ---- the test checkpoints ----

def mistral_window(gen):
    """Mistral with a window of 6 over 18 positions (3× the window); row 1 padded by 4 < the window, so every
    query still sees a real key."""
    c = dict(vocab=300, hidden=48, inter=88, layers=2, heads=4, kv=2, hd=12, eps=1e-5, theta=10000.0, window=6)
    c["rope_layers"] = [1, 1]
    c["layer_types"] = ["sliding_attention"] * 2
    model = Llama(c, random_params(decoder_shapes(c, qkvo(c), gated(c), {"input_layernorm": 48, "post_attention_layernorm": 48}), gen))
    base = {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 300, "hidden_size": 48,
            "intermediate_size": 88, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "head_dim": 12, "hidden_act": "silu", "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
            "sliding_window": 6, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2}
    c5 = {**base, "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}, "dtype": "float32"}
    c4 = {**base, "rope_theta": 10000.0, "rope_scaling": None, "torch_dtype": "float32"}
    write_model("mistral-window", model, c5, c4, 18, 4, gen)


def ministral_window(gen):
    """Ministral's layer_types: windowed and full layers interleaved (window 5, 3 layers)."""
    c = dict(vocab=300, hidden=48, inter=88, layers=3, heads=4, kv=2, hd=12, eps=1e-5, theta=100000.0, window=5)
    c["rope_layers"] = [1, 1, 1]
    c["layer_types"] = ["sliding_attention", "full_attention", "sliding_attention"]
    model = Llama(c, random_params(decoder_shapes(c, qkvo(c), gated(c), {"input_layernorm": 48, "post_attention_layernorm": 48}), gen))
    base = {"architectures": ["MinistralForCausalLM"], "model_type": "ministral", "vocab_size": 300, "hidden_size": 48,
            "intermediate_size": 88, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
            "head_dim": 12, "hidden_act": "silu", "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
            "sliding_window": 5, "layer_types": c["layer_types"], "tie_word_embeddings": False, "bos_token_id": 1,
            "eos_token_id": 2}
    c5 = {**base, "rope_parameters": {"rope_type": "default", "rope_theta": 100000.0}, "dtype": "float32"}
    c4 = {**base, "rope_theta": 100000.0, "rope_scaling": None, "torch_dtype": "float32"}
    write_model("ministral-window", model, c5, c4, 16, 3, gen)


def smollm3(gen):
    """SmolLM3-3B's fields on 5 layers: no_rope_layer_interval 4 makes layer 3 a NoPE layer (the transformers 4
    file gives only the interval, the transformers 5 file the list it implies); tied embeddings."""
    c = dict(vocab=300, hidden=40, inter=72, layers=5, heads=4, kv=2, hd=10, eps=1e-6, theta=5_000_000.0, window=None)
    c["rope_layers"] = [1, 1, 1, 0, 1]
    c["layer_types"] = ["full_attention"] * 5
    model = Llama(c, random_params(decoder_shapes(c, qkvo(c), gated(c), {"input_layernorm": 40, "post_attention_layernorm": 40}, head=False), gen))
    base = {"architectures": ["SmolLM3ForCausalLM"], "model_type": "smollm3", "vocab_size": 300, "hidden_size": 40,
            "intermediate_size": 72, "num_hidden_layers": 5, "num_attention_heads": 4, "num_key_value_heads": 2,
            "hidden_act": "silu", "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "attention_bias": False,
            "mlp_bias": False, "no_rope_layer_interval": 4, "use_sliding_window": False, "sliding_window": None,
            "tie_word_embeddings": True, "bos_token_id": None, "eos_token_id": 2, "pad_token_id": 1}
    c5 = {**base, "no_rope_layers": [1, 1, 1, 0, 1], "layer_types": c["layer_types"],
          "rope_parameters": {"rope_type": "default", "rope_theta": 5_000_000.0}, "dtype": "float32"}
    c4 = {**base, "rope_theta": 5_000_000.0, "rope_scaling": None, "torch_dtype": "float32"}
    write_model("smollm3", model, c5, c4, 16, 5, gen)


def phi3_longrope(gen):
    """Phi-4-mini's fields: fused qkv_proj and gate_up_proj, partial_rotary_factor 0.75, longrope with an
    original context of 8 (the 16-token batch uses the long factors, generation switches from short to long
    at position 8), a window of 12 (Phi-3's sliding_window), tied embeddings."""
    c = dict(vocab=300, hidden=64, inter=80, layers=2, heads=4, kv=2, hd=16, eps=1e-5, theta=10000.0, window=12,
             partial_rotary_factor=0.75)
    short = [round(1.0 + 0.3 * i, 3) for i in range(6)]
    long = [round(1.5 + 0.9 * i, 3) for i in range(6)]
    factor = 64 / 8
    c["scaling"] = {"rope_type": "longrope", "short_factor": short, "long_factor": long, "original_max_position_embeddings": 8,
                    "attention_factor": math.sqrt(1 + math.log(factor) / math.log(8))}
    H, nq, nk = 64, 64, 32
    attn = {"self_attn.qkv_proj": [nq + 2 * nk, H], "self_attn.o_proj": [H, nq]}
    mlp = {"mlp.gate_up_proj": [2 * 80, H], "mlp.down_proj": [H, 80]}
    model = Phi3(c, random_params(decoder_shapes(c, attn, mlp, {"input_layernorm": 64, "post_attention_layernorm": 64}, head=False), gen))
    base = {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "vocab_size": 300, "hidden_size": 64,
            "intermediate_size": 80, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "hidden_act": "silu", "max_position_embeddings": 64, "original_max_position_embeddings": 8,
            "rms_norm_eps": 1e-5, "sliding_window": 12, "tie_word_embeddings": True, "bos_token_id": 1,
            "eos_token_id": 2, "pad_token_id": 0, "resid_pdrop": 0.0, "embd_pdrop": 0.0}
    c5 = {**base, "rope_parameters": {"rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 0.75,
                                      "short_factor": short, "long_factor": long, "original_max_position_embeddings": 8},
          "dtype": "float32"}
    c4 = {**base, "partial_rotary_factor": 0.75, "rope_theta": 10000.0,
          "rope_scaling": {"type": "longrope", "short_factor": short, "long_factor": long}, "torch_dtype": "float32"}
    write_model("phi3-longrope", model, c5, c4, 16, 5, gen)


def gemma_norms(c):
    H = c["hidden"]
    return {"input_layernorm": H, "post_attention_layernorm": H, "pre_feedforward_layernorm": H, "post_feedforward_layernorm": H}


def gemma2(gen):
    """Gemma 2's fields on 3 layers (sliding, full, sliding: every other layer from the first) with a window
    of 5; soft caps small enough to bite on random weights; query_pre_attn_scalar ≠ head_dim."""
    c = dict(vocab=300, hidden=40, inter=72, layers=3, heads=2, kv=1, hd=24, eps=1e-6, theta=10000.0, window=5,
             gemma3=False, scaling=None, query_pre_attn_scalar=20, attn_softcap=2.0, final_softcap=3.0)
    c["layer_types"] = ["sliding_attention", "full_attention", "sliding_attention"]
    model = Gemma(c, random_params(decoder_shapes(c, qkvo(c), gated(c), gemma_norms(c), head=False), gen, norm_offset=0.0))
    base = {"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "vocab_size": 300, "hidden_size": 40,
            "intermediate_size": 72, "num_hidden_layers": 3, "num_attention_heads": 2, "num_key_value_heads": 1,
            "head_dim": 24, "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh",
            "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "query_pre_attn_scalar": 20, "sliding_window": 5,
            "attn_logit_softcapping": 2.0, "final_logit_softcapping": 3.0, "attention_bias": False,
            "tie_word_embeddings": True, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
            "cache_implementation": "hybrid"}
    c5 = {**base, "layer_types": c["layer_types"], "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
          "dtype": "float32"}
    c4 = {**base, "rope_theta": 10000.0, "rope_scaling": None, "torch_dtype": "float32"}
    write_model("gemma2", model, c5, c4, 16, 3, gen)


def gemma3(gen):
    """Gemma 3's fields on 7 layers (sliding_window_pattern 6: layer 5 global), a window of 4, q/k norms,
    global RoPE 1e6 with linear scaling 8 (as Gemma 3 4B), local RoPE 1e4; also written as a
    Gemma3ForConditionalGeneration checkpoint (old key layout language_model.model.*, a sparse text_config,
    a vision tower the text model ignores)."""
    c = dict(vocab=300, hidden=40, inter=72, layers=7, heads=3, kv=1, hd=18, eps=1e-6, theta=1_000_000.0,
             local_theta=10000.0, window=4, gemma3=True, scaling={"rope_type": "linear", "factor": 8.0},
             query_pre_attn_scalar=24)
    c["layer_types"] = ["sliding_attention"] * 5 + ["full_attention", "sliding_attention"]
    shapes = decoder_shapes(c, qkvo(c), gated(c), {**gemma_norms(c), "self_attn.q_norm": 18, "self_attn.k_norm": 18}, head=False)
    model = Gemma(c, random_params(shapes, gen, norm_offset=0.0))
    text = {"vocab_size": 300, "hidden_size": 40, "intermediate_size": 72, "num_hidden_layers": 7,
            "num_attention_heads": 3, "num_key_value_heads": 1, "head_dim": 18, "query_pre_attn_scalar": 24,
            "sliding_window": 4, "max_position_embeddings": 256}
    base = {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", **text,
            "hidden_activation": "gelu_pytorch_tanh", "rms_norm_eps": 1e-6, "attention_bias": False,
            "attn_logit_softcapping": None, "final_logit_softcapping": None, "tie_word_embeddings": True,
            "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0}
    c5 = {**base, "layer_types": c["layer_types"], "dtype": "float32",
          "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1_000_000.0},
                              "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}}
    c4 = {**base, "rope_theta": 1_000_000.0, "rope_local_base_freq": 10000.0, "sliding_window_pattern": 6,
          "rope_scaling": {"rope_type": "linear", "factor": 8.0}, "torch_dtype": "float32"}
    write_model("gemma3", model, c5, c4, 16, 3, gen)
    # The same weights as a multimodal checkpoint: text_config leaves out what equals Gemma3TextConfig's
    # defaults (eps, RoPE bases, pattern, soft caps); the reference is gemma3's.
    mm = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
          "text_config": {"model_type": "gemma3_text", **text, "rope_scaling": {"rope_type": "linear", "factor": 8.0}},
          "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 8, "num_hidden_layers": 1},
          "eos_token_id": [1, 106], "torch_dtype": "float32"}
    d = os.path.join(ROOT, "models", "gemma3-multimodal")
    save_json(os.path.join(d, "config.json"), mm)
    weights = {k.replace("model.", "language_model.model.", 1): v for k, v in model.p.items()}
    weights["vision_tower.vision_model.post_layernorm.weight"] = torch.ones(8)
    weights["multi_modal_projector.mm_input_projection_weight"] = torch.zeros(8, 40)
    save_safetensors(os.path.join(d, "model.safetensors"), weights)


# ---- op-level cases ----

def op_cases(gen):
    """The new ops one by one, forward and backward, on shapes not aligned to any tile."""
    d = os.path.join(ROOT, "ops")
    r = lambda *shape, s=1.0: (s * torch.randn(*shape, generator=gen)).requires_grad_()

    # soft cap c·tanh(x/c) on values spanning the tails
    x = r(7, 33, s=4.0)
    y = soft_cap(x, 2.5)
    dy = torch.randn(7, 33, generator=gen)
    (y * dy).sum().backward()
    save_safetensors(os.path.join(d, "softcap.safetensors"), {"x": x, "cap": torch.tensor(2.5), "y": y, "dy": dy, "dx": x.grad})

    # Gemma's RMSNorm: (1 + w)
    x, w = r(9, 40, s=2.0), r(40, s=0.3)
    y = rms_norm(x, w, 1e-6, 1.0)
    dy = torch.randn(9, 40, generator=gen)
    (y * dy).sum().backward()
    save_safetensors(os.path.join(d, "rmsnorm-gemma.safetensors"), {"x": x, "w": w, "eps": torch.tensor(1e-6), "y": y, "dy": dy, "dx": x.grad, "dw": w.grad})

    # GELU-tanh gated product
    g, u = r(5, 37, s=3.0), r(5, 37)
    y = geglu(g, u)
    dy = torch.randn(5, 37, generator=gen)
    (y * dy).sum().backward()
    save_safetensors(os.path.join(d, "geglu-tanh.safetensors"), {"gate": g, "up": u, "y": y, "dy": dy, "dgate": g.grad, "dup": u.grad})

    # windowed attention with padding, with and without a soft cap; q, k, v stored [B, T, heads, hd]
    for name, window, cap in [("attention-window", 5, None), ("attention-window-softcap", 7, 1.5)]:
        B, T, nh, nkv, hd = 2, 23, 4, 2, 12
        q, k, v = r(B, T, nh, hd, s=1.5), r(B, T, nkv, hd, s=1.5), r(B, T, nkv, hd)
        mask = torch.ones(B, T, dtype=torch.int64)
        mask[1, T - 3:] = 0
        mask[0, 2] = 0  # a padded key inside the window too
        y = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask, hd ** -0.5, window, cap).transpose(1, 2)
        dy = torch.randn(B, T, nh, hd, generator=gen)
        (y * dy).sum().backward()
        t = {"q": q, "k": k, "v": v, "attention_mask": mask, "window": torch.tensor(window, dtype=torch.int64), "out": y,
             "dy": dy, "dq": q.grad, "dk": k.grad, "dv": v.grad}
        if cap is not None:
            t["softcap"] = torch.tensor(cap)
        save_safetensors(os.path.join(d, f"{name}.safetensors"), t)

    # longrope tables (short and long factors, attention factor) and partial rotary on q with its gradient
    hd, rot, orig, max_pos = 16, 12, 8, 64
    short, long = [1.0, 1.2, 1.9, 2.5, 4.0, 7.5], [1.1, 2.0, 3.3, 6.0, 11.0, 20.0]
    att = math.sqrt(1 + math.log(max_pos / orig) / math.log(orig))
    scaling = {"rope_type": "longrope", "short_factor": short, "long_factor": long, "original_max_position_embeddings": orig, "attention_factor": att}
    out = {}
    for label, T in [("short", 8), ("long", 20)]:
        positions = torch.arange(T)[None]
        cos, sin = rope_cos_sin(rot, 10000.0, scaling, positions)
        q = r(1, 3, T, hd)
        y = apply_rope(q, cos, sin)
        dy = torch.randn(1, 3, T, hd, generator=gen)
        (y * dy).sum().backward()
        # stored [T, heads, hd], the layout the kernels use
        out.update({f"{label}.cos": cos[0, :, : rot // 2], f"{label}.sin": sin[0, :, : rot // 2],
                    f"{label}.q": q[0].transpose(0, 1), f"{label}.y": y[0].transpose(0, 1).detach(),
                    f"{label}.dy": dy[0].transpose(0, 1), f"{label}.dq": q.grad[0].transpose(0, 1)})
    save_safetensors(os.path.join(d, "longrope.safetensors"), out)
    save_json(os.path.join(d, "longrope.json"), {"head_dim": hd, "rotary_dim": rot, "rope_theta": 10000.0,
                                                 "original_max_position_embeddings": orig, "max_position_embeddings": max_pos,
                                                 "short_factor": short, "long_factor": long, "attention_factor": att})


def main():
    op_cases(torch.Generator().manual_seed(1))
    mistral_window(torch.Generator().manual_seed(2))
    smollm3(torch.Generator().manual_seed(3))
    phi3_longrope(torch.Generator().manual_seed(4))
    gemma2(torch.Generator().manual_seed(5))
    gemma3(torch.Generator().manual_seed(6))
    ministral_window(torch.Generator().manual_seed(7))


if __name__ == "__main__":
    main()
