# PSPNet on a dilated torchvision-stem ResNet-101 (one 7x7 stem conv, built through
# segmentation-models-pytorch, every conv of layer3/layer4 dilated at the full rate), output
# stride 8, pyramid pooling (1, 2, 3, 6), dropout 0.1, auxiliary FCN head on layer3 (256
# channels) with loss weight 0.4. Not the reference's network (that is pspnet_r101-d8.py): it
# takes torchvision's ImageNet weights.
model = dict(
    type="SegModel",
    model=dict(
        type="PSPNet",
        encoder="resnet101",
        stem="torchvision",
        num_classes=13,
        # ImageNet weights; nothing is downloaded: put a torchvision resnet101 state dict here
        # (see segood.models.pretrained) or set None
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
