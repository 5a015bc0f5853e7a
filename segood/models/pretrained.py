"""ImageNet-pretrained encoder weights from a local file (no download is ever attempted).

Accepted files: a torchvision ResNet state dict (`conv1.weight`, `layer1.0...`; `fc.*` is
ignored), an smp encoder state dict (same keys), or either under an `encoder.`/`backbone.`
prefix or a `state_dict` key.
"""

from pathlib import Path

from torch import nn

from segood.errors import SegoodError
from segood.models.state_dicts import (
    as_state_dict,
    read_weights_file,
    shape_mismatches,
    short_list,
)

ENCODER_PREFIXES = ("", "module.", "encoder.", "backbone.", "model.encoder.", "module.encoder.")


def imagenet_error(encoder_name: str) -> SegoodError:
    return SegoodError(
        f"model.pretrained='imagenet' needs a download, and no weights can be downloaded here; "
        f"on a machine with internet run `torch.save(torchvision.models.{encoder_name}("
        f"weights='IMAGENET1K_V1').state_dict(), '{encoder_name}.pth')`, copy the file here and "
        f"set model.pretrained='/path/to/{encoder_name}.pth' (or pretrained=None to train from "
        f"scratch)"
    )


def load_pretrained_encoder(
    encoder: nn.Module, pretrained: str | Path | None, encoder_name: str
) -> None:
    """Load `pretrained` (None, 'imagenet' or a path) into an smp ResNet encoder in place."""
    if pretrained is None:
        return
    if str(pretrained).lower() == "imagenet":
        raise imagenet_error(encoder_name)
    path = Path(pretrained).expanduser()
    what, expected_text = "model.pretrained", f"a torchvision {encoder_name} state dict"
    state = as_state_dict(read_weights_file(path, what), path, what, expected_text)

    expected = encoder.state_dict()
    prefix = next((p for p in ENCODER_PREFIXES if f"{p}conv1.weight" in state), None)
    if prefix is None:
        raise SegoodError(
            f"{what} file {path} has no 'conv1.weight' key (first keys: "
            f"{short_list(list(state), 3)}); expected {expected_text}"
        )
    state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}

    bad = shape_mismatches(state, expected)
    if bad:
        detail = "; ".join(f"{k}: file {list(a)} vs model {list(b)}" for k, a, b in bad[:3])
        raise SegoodError(
            f"{what} file {path} does not fit the {encoder_name} encoder ({len(bad)} shape "
            f"mismatches, e.g. {detail}); expected {expected_text} (a file for a different "
            f"ResNet depth, or a deep-stem ResNet, does not fit)"
        )
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise SegoodError(
            f"{what} file {path} lacks {len(missing)} {encoder_name} weights "
            f"({short_list(missing)}); expected {expected_text}"
        )
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        raise SegoodError(
            f"{what} file {path} has {len(unexpected)} keys that the {encoder_name} encoder "
            f"lacks ({short_list(unexpected)}); expected {expected_text}"
        )
    merged = dict(expected)
    merged.update(state)
    nn.Module.load_state_dict(encoder, merged, strict=True)
