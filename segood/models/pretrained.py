"""ImageNet-pretrained encoder weights from a local file (no download is ever attempted).

Accepted files, for stem="torchvision": a torchvision ResNet state dict (`conv1.weight`,
`layer1.0...`; `fc.*` is ignored) or an smp encoder state dict (same keys); for stem="deep":
the deep-stem ResNet files of CSAIL's model zoo (`resnet101-imagenet.pth`, the CAOS reference's
initialisation: `conv1`..`conv3`, `bn1`..`bn3`, `layer1.0...`, `fc.*` ignored; without BN
`num_batches_tracked` counters, which are then left at 0). Either may sit under an
`encoder.`/`backbone.` prefix or a `state_dict` key.
"""

from pathlib import Path

from torch import nn

from segood.errors import SegoodError
from segood.models.state_dicts import (
    as_state_dict,
    describe_mismatches,
    read_weights_file,
    shape_mismatches,
    short_list,
)

ENCODER_PREFIXES = ("", "module.", "encoder.", "backbone.", "model.encoder.", "module.encoder.")


CSAIL_ZOO = "http://sceneparsing.csail.mit.edu/model/pretrained_resnet"


def imagenet_error(encoder_name: str, stem: str = "torchvision") -> SegoodError:
    if stem == "deep":
        return SegoodError(
            f"model.pretrained='imagenet' needs a download, and no weights can be downloaded "
            f"here; on a machine with internet fetch CSAIL's deep-stem file "
            f"{CSAIL_ZOO}/{encoder_name}-imagenet.pth (the CAOS reference's ImageNet weights), "
            f"copy it here and set model.pretrained='/path/to/{encoder_name}-imagenet.pth' (or "
            f"pretrained=None to train from scratch)"
        )
    return SegoodError(
        f"model.pretrained='imagenet' needs a download, and no weights can be downloaded here; "
        f"on a machine with internet run `torch.save(torchvision.models.{encoder_name}("
        f"weights='IMAGENET1K_V1').state_dict(), '{encoder_name}.pth')`, copy the file here and "
        f"set model.pretrained='/path/to/{encoder_name}.pth' (or pretrained=None to train from "
        f"scratch)"
    )


def stem_of(state: dict) -> str:
    """'deep' if a ResNet state dict has the three stem convs, else 'torchvision'."""
    return "deep" if "conv3.weight" in state and "conv2.weight" in state else "torchvision"


def load_pretrained_encoder(
    encoder: nn.Module, pretrained: str | Path | None, encoder_name: str, stem: str = "torchvision"
) -> None:
    """Load `pretrained` (None, 'imagenet' or a path) into a ResNet encoder in place."""
    if pretrained is None:
        return
    if str(pretrained).lower() == "imagenet":
        raise imagenet_error(encoder_name, stem)
    path = Path(pretrained).expanduser()
    what = "model.pretrained"
    expected_text = (
        f"CSAIL's deep-stem {encoder_name}-imagenet.pth ({CSAIL_ZOO})"
        if stem == "deep"
        else f"a torchvision {encoder_name} state dict"
    )
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
    found = stem_of(state)
    if found != stem:
        fitting = {
            "deep": "model.stem='deep' (the paper configs pspnet*_r101-d8_*)",
            "torchvision": "model.stem='torchvision' (the pspnet_r101b-d8_* configs)",
        }[found]
        raise SegoodError(
            f"{what} file {path} holds a {found}-stem ResNet but the model has stem={stem!r}; "
            f"give {expected_text}, or train with {fitting}"
        )

    bad = shape_mismatches(state, expected)
    if bad:
        detail = describe_mismatches(bad)
        raise SegoodError(
            f"{what} file {path} does not fit the {encoder_name} encoder ({len(bad)} shape "
            f"mismatches, e.g. {detail}); expected {expected_text} (a file for another ResNet "
            f"depth does not fit)"
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
