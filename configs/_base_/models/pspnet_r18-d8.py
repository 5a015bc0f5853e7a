# PSPNet on a dilated ResNet-18 (output stride 8): the small model for CPU tests and demos.
model = dict(
    type="SegModel",
    model=dict(
        type="PSPNet",
        encoder="resnet18",
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
