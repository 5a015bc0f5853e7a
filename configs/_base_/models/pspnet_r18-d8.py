# PSPNet on a dilated ResNet-18 (output stride 8): the small model for CPU tests and demos. It
# keeps the torchvision stem (one 7x7 conv, cheaper on a CPU than the reference's three 3x3
# convs); the reference's own ResNet-18 network is stem="deep", ppm_channels=512,
# aux_channels=128 (what tools/convert_checkpoint.py csail --arch resnet18dilated builds).
model = dict(
    type="SegModel",
    model=dict(
        type="PSPNet",
        encoder="resnet18",
        stem="torchvision",
        num_classes=13,
        pretrained=None,
        output_stride=8,
        bins=(1, 2, 3, 6),
        dropout=0.1,
        aux_weight=0.4,
    ),
    ignore_index=255,
    loss_at="full",
    channels_last=False,
)
