"""Whisper's audio encoder in PyTorch, built from CTranslate2 weights, with every layer exposed.

Architecture (``whisper.model.AudioEncoder``): conv1 (k3, pad 1) + GELU, conv2 (k3, stride
2, pad 1) + GELU, plus the stored sinusoidal position table sliced to the sequence length,
then N pre-LayerNorm transformer layers (self-attention, GELU MLP) and a final LayerNorm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from emovox.errors import ModelError
from emovox.features.whisper.ct2_format import Ct2Model


class EncoderLayer(nn.Module):
    """One pre-LN transformer layer: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, width: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.attn_ln = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp_ln = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, frames, width = x.shape
        qkv = self.qkv(self.attn_ln(x))
        qkv = qkv.view(batch, frames, 3, self.n_heads, width // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attended = F.scaled_dot_product_attention(q, k, v)
        x = x + self.out(attended.transpose(1, 2).reshape(batch, frames, width))
        return x + self.fc2(F.gelu(self.fc1(self.mlp_ln(x))))


class WhisperEncoder(nn.Module):
    """Whisper's encoder; :meth:`forward` returns the hidden state after every layer."""

    def __init__(
        self, *, n_mels: int, width: int, n_heads: int, n_layers: int, n_positions: int
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positions", torch.zeros(n_positions, width))
        self.layers = nn.ModuleList(EncoderLayer(width, n_heads) for _ in range(n_layers))
        self.ln_post = nn.LayerNorm(width)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def max_frames(self) -> int:
        """Longest mel input, in 10 ms frames (3000 = 30 s for Whisper)."""
        return 2 * self.positions.shape[0]

    def forward(self, mel: torch.Tensor, num_layers: int | None = None) -> list[torch.Tensor]:
        """Hidden states of a (batch, n_mels, frames) log-mel, frames even.

        Returns ``num_layers + 1`` tensors of shape (batch, frames / 2, width): index 0 is
        the input to layer 1 (convolutions + positions) and index ``i`` the output of layer
        ``i``. The output of the last layer of the model (``i == n_layers``) is taken
        *after* the final LayerNorm, as in ``ctranslate2``'s ``encode`` and Hugging Face's
        ``hidden_states``; earlier ones are raw residual streams. ``num_layers`` (default:
        all) stops early, so layers that are not needed are not computed.
        """
        depth = self.n_layers if num_layers is None else num_layers
        if not 0 <= depth <= self.n_layers:
            raise ValueError(f"num_layers must be in 0..{self.n_layers}, got {num_layers}")
        if mel.shape[-1] > self.max_frames:
            raise ValueError(
                f"{mel.shape[-1]} mel frames exceed the encoder's {self.max_frames}; chunk it."
            )
        x = F.gelu(self.conv1(mel))
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        x = x + self.positions[: x.shape[1]]
        states = [x]
        for index in range(depth):
            x = self.layers[index](x)
            states.append(x)
        if depth == self.n_layers and depth > 0:
            states[-1] = self.ln_post(x)
        return states

    @classmethod
    def from_ct2(cls, model: Ct2Model) -> WhisperEncoder:
        """Build the encoder from a parsed CTranslate2 Whisper ``model.bin`` (float32 weights)."""
        if model.spec != "WhisperSpec":
            raise ModelError(f"Expected a CTranslate2 WhisperSpec model, got '{model.spec}'.")
        conv1 = model.float32("encoder/conv1/weight")
        positions = model.float32("encoder/position_encodings/encodings")
        n_layers = 0
        while model.has(f"encoder/layer_{n_layers}/ffn/linear_0/weight"):
            n_layers += 1
        encoder = cls(
            n_mels=conv1.shape[1],
            width=conv1.shape[0],
            n_heads=int(model.get("encoder/num_heads")),
            n_layers=n_layers,
            n_positions=positions.shape[0],
        )
        names = {
            "conv1.weight": "encoder/conv1/weight",
            "conv1.bias": "encoder/conv1/bias",
            "conv2.weight": "encoder/conv2/weight",
            "conv2.bias": "encoder/conv2/bias",
            "positions": "encoder/position_encodings/encodings",
            "ln_post.weight": "encoder/layer_norm/gamma",
            "ln_post.bias": "encoder/layer_norm/beta",
        }
        for i in range(n_layers):
            ct2 = f"encoder/layer_{i}"
            for ours, theirs in {
                "attn_ln.weight": "self_attention/layer_norm/gamma",
                "attn_ln.bias": "self_attention/layer_norm/beta",
                "qkv.weight": "self_attention/linear_0/weight",
                "qkv.bias": "self_attention/linear_0/bias",
                "out.weight": "self_attention/linear_1/weight",
                "out.bias": "self_attention/linear_1/bias",
                "mlp_ln.weight": "ffn/layer_norm/gamma",
                "mlp_ln.bias": "ffn/layer_norm/beta",
                "fc1.weight": "ffn/linear_0/weight",
                "fc1.bias": "ffn/linear_0/bias",
                "fc2.weight": "ffn/linear_1/weight",
                "fc2.bias": "ffn/linear_1/bias",
            }.items():
                names[f"layers.{i}.{ours}"] = f"{ct2}/{theirs}"
        state = {ours: torch.from_numpy(model.float32(theirs)) for ours, theirs in names.items()}
        expected = encoder.state_dict()
        for key, tensor in state.items():
            if tensor.shape != expected[key].shape:
                raise ModelError(
                    f"Whisper weight '{names[key]}' has shape {tuple(tensor.shape)}, expected "
                    f"{tuple(expected[key].shape)}; the model.bin is not a Whisper encoder."
                )
        encoder.load_state_dict(state, strict=True)
        return encoder.eval()
