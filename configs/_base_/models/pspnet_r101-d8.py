# PSPNet of the paper: dilated ResNet-101 (output stride 8), pyramid pooling (1, 2, 3, 6),
# dropout 0.1, auxiliary FCN head on layer3 with loss weight 0.4.
model = dict(
    type="SegModel",
    model=dict(
        type="PSPNet",
        encoder="resnet101",
        num_classes=13,
        # ImageNet weights as in the paper; nothing is downloaded: put a torchvision
        # resnet101 state dict here (see segood.models.pretrained) or set None
        pretrained="pretrained/resnet101_imagenet.pth",
        output_stride=8,
        bins=(1, 2, 3, 6),
        dropout=0.1,
        aux_weight=0.4,
    ),
    ignore_index=255,
    loss_at="full",  # "feature": the reference's loss at 1/8 with nearest-downsampled labels
    channels_last=False,  # GPU speed switch
)
