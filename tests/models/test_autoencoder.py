import pytest
import torch

from segood.errors import SegoodError
from segood.models import AutoEncoder, reconstruction_error, reconstruction_loss


@pytest.fixture(scope="module")
def ae() -> AutoEncoder:
    torch.manual_seed(0)
    return AutoEncoder().eval()


@pytest.mark.parametrize("size", [(32, 48), (33, 50)])
def test_shapes_and_latent_at_one_sixteenth(ae, size):
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        z = ae.encode(x)
        out = ae(x)
    assert out.shape == x.shape
    assert z.shape == (2, 32, -(-size[0] // 16), -(-size[1] // 16))
    assert [b[0].out_channels for b in ae.encoder] == [32, 64, 128, 256]


def test_no_skip_across_the_bottleneck(ae):
    """With the latent code fixed, the output no longer depends on the input at all."""
    x1, x2 = torch.randn(2, 1, 3, 32, 48)
    with torch.no_grad():
        z = ae.encode(x1)
        torch.testing.assert_close(ae(x1), ae.decode(z, x1.shape[-2:]))
        handle = ae.to_latent.register_forward_hook(lambda m, i, o: z)
        try:
            torch.testing.assert_close(ae(x2), ae(x1))
        finally:
            handle.remove()
        changed = (ae.decode(torch.zeros_like(z)) - ae.decode(z)).abs().amax(dim=1)
    assert (changed > 0).all()  # the latent reaches every output pixel


def test_trains_one_step():
    ae = AutoEncoder(channels=(8, 8, 16, 16), latent_channels=4, loss="l1").train()
    x = torch.randn(2, 3, 32, 32)
    loss = reconstruction_loss(ae(x), x, kind=ae.loss)
    loss.backward()
    assert torch.isfinite(loss) and ae.head.weight.grad is not None


def test_reconstruction_error_by_hand():
    x = torch.zeros(1, 3, 1, 2)
    x_hat = torch.tensor([[1.0, 0.0], [2.0, 0.0], [2.0, 3.0]]).view(1, 3, 1, 2)
    err = reconstruction_error(x, x_hat)
    assert err.shape == (1, 1, 2)
    torch.testing.assert_close(err, torch.tensor([[[9.0 / 3, 9.0 / 3]]]))
    with pytest.raises(ValueError, match="differ"):
        reconstruction_error(x, x_hat[:, :2])


def test_reconstruction_loss_kinds():
    a, b = torch.zeros(1, 1, 1, 2), torch.tensor([1.0, 3.0]).view(1, 1, 1, 2)
    assert reconstruction_loss(b, a).item() == pytest.approx(5.0)
    assert reconstruction_loss(b, a, kind="l1").item() == pytest.approx(2.0)
    with pytest.raises(SegoodError, match=r"model\.loss='l2'"):
        AutoEncoder(loss="l2")
