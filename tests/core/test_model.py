"""The attention-LSTM: shapes, attention weights, residual paths, hotspots, determinism."""

from __future__ import annotations

import pytest
import torch

from faultlens.core.device import device_description, resolve_device
from faultlens.core.errors import FaultLensError
from faultlens.core.model import AttentionLSTM, ModelConfig, ModelOutput

B, T, C, H, HEADS, K = 3, 12, 4, 16, 4, 3


def _model(seed: int = 0, **overrides: object) -> AttentionLSTM:
    torch.manual_seed(seed)
    config = ModelConfig(n_channels=C, n_classes=K, hidden=H, heads=HEADS, **overrides)  # type: ignore[arg-type]
    return AttentionLSTM(config).eval()


def test_output_shapes_and_types() -> None:
    out = _model()(torch.randn(B, T, C))
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (B, K)
    assert out.attention.shape == (B, HEADS, T, T)
    assert out.hotspots.shape == (B, H)
    assert out.hotspots.dtype == torch.long


def test_attention_rows_are_distributions() -> None:
    att = _model()(torch.randn(B, T, C)).attention
    assert torch.all(att >= 0)
    torch.testing.assert_close(att.sum(dim=-1), torch.ones(B, HEADS, T))


def test_hotspots_are_the_argmax_time_steps_in_range() -> None:
    model = _model()
    x = torch.randn(B, T, C)
    out = model(x)
    assert int(out.hotspots.min()) >= 0 and int(out.hotspots.max()) < T
    # Recompute the pooled features by hand: the hotspot is where each feature peaks.
    z = model.input_proj(x)
    h1 = model.lstm1(z)[0] + z
    h2 = model.lstm2(h1)[0] + h1
    a, _ = model.attention(h2)
    torch.testing.assert_close(
        a.gather(1, out.hotspots.unsqueeze(1)).squeeze(1), a.max(dim=1).values
    )


def test_a_spike_moves_hotspots_to_it() -> None:
    model = _model()
    x = torch.zeros(1, T, C)
    x[0, 7, :] = 25.0
    hot = model(x).hotspots[0]
    # Attention mixes time steps, so not every feature must peak at the spike, but the
    # spike's step is the most common hotspot.
    assert int(torch.bincount(hot, minlength=T).argmax()) == 7


def test_gradient_reaches_input_projection_through_both_paths() -> None:
    model = _model(dropout=0.0)
    x = torch.randn(B, T, C)
    model(x).logits.sum().backward()
    grad_full = model.input_proj.weight.grad.clone()
    assert grad_full.abs().sum() > 0

    # With all LSTM weights zeroed each LSTM outputs zeros (h = o * tanh(0)), so any gradient
    # left at the input projection must come through the residual additions.
    model.zero_grad()
    with torch.no_grad():
        for lstm in (model.lstm1, model.lstm2):
            for p in lstm.parameters():
                p.zero_()
    z = model.input_proj(x)
    assert torch.count_nonzero(model.lstm1(z)[0]) == 0
    model(x).logits.sum().backward()
    grad_residual = model.input_proj.weight.grad
    assert grad_residual.abs().sum() > 0
    # ... and the LSTM path contributed in the full model (the gradients differ).
    assert not torch.allclose(grad_full, grad_residual)


def test_residual_add_is_in_the_forward_pass() -> None:
    """h1 = LSTM1(z) + z: with LSTM1 made an exact zero map the second layer sees z itself."""
    model = _model()
    with torch.no_grad():
        for p in model.lstm1.parameters():
            p.zero_()
    seen: list[torch.Tensor] = []
    model.lstm2.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0]))
    x = torch.randn(B, T, C)
    model(x)
    torch.testing.assert_close(seen[0], model.input_proj(x))


def test_deterministic_with_seed_on_cpu() -> None:
    x = torch.randn(B, T, C)
    a = _model(seed=5)(x)
    b = _model(seed=5)(x)
    c = _model(seed=6)(x)
    torch.testing.assert_close(a.logits, b.logits, rtol=0, atol=0)
    assert torch.equal(a.hotspots, b.hotspots)
    assert not torch.allclose(a.logits, c.logits)


def test_config_validation_and_round_trip() -> None:
    config = ModelConfig(n_channels=3, n_classes=2, hidden=8, heads=2)
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="multiple of heads"):
        ModelConfig(n_channels=3, n_classes=2, hidden=10, heads=4)
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({**config.to_dict(), "layers": 3})


def test_device_resolution_and_description() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("AUTO").type == expected
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert device_description(torch.device("cpu")) == "CPU (1 thread)"
        torch.set_num_threads(2)
        assert device_description(torch.device("cpu")) == "CPU (2 threads)"
    finally:
        torch.set_num_threads(threads)
    with pytest.raises(FaultLensError, match="not known"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(FaultLensError, match="no CUDA GPU"):
            resolve_device("cuda")
    else:
        assert device_description(resolve_device("cuda")).startswith("CUDA: ")


def test_feature_front_end_is_causal_and_sized_as_configured() -> None:
    from faultlens.core.model import CausalFeatures

    front = CausalFeatures((4, 8))
    x = torch.randn(2, 16, 3)
    out = front(x)
    assert out.shape == (2, 16, 3 * (2 + 4 * 2))
    later = x.clone()
    later[:, 10:] += 5.0  # change only steps 10..15
    changed = front(later)
    torch.testing.assert_close(changed[:, :10], out[:, :10])  # nothing before step 10 moves
    assert not torch.allclose(changed[:, 10:], out[:, 10:])
    # A ramp of slope 1: the scale-4 slope feature is the change over the scale (3).
    ramp = torch.arange(16, dtype=torch.float32).view(1, 16, 1)
    feats = CausalFeatures((4,))(ramp)  # [x, diff, mean, spread, slope, range]
    assert torch.allclose(feats[0, 5:, 1], torch.ones(11))
    assert torch.allclose(feats[0, 5:, 4], torch.full((11,), 3.0))
    assert torch.allclose(feats[0, 5:, 5], torch.full((11,), 3.001).log())  # log range
    # A frozen value has the floor spread; noise has a spread orders of magnitude above it.
    flat = CausalFeatures((4,))(torch.zeros(1, 8, 1))
    assert torch.allclose(flat[0, :, 3], torch.full((8,), 1e-3).log(), atol=1e-4)
    model = AttentionLSTM(ModelConfig(n_channels=3, n_classes=2, hidden=8, heads=2,
                                      feature_scales=(4, 8)))  # fmt: skip
    assert model.input_proj.in_features == 30 and model(x).logits.shape == (2, 2)
