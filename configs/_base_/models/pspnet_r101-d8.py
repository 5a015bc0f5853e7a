# PSPNet of the paper, layer for layer the CAOS reference's network (CSAIL's ResnetDilated +
# PPMDeepsup): dilated deep-stem ResNet-101 (three 3x3 stem convs 3->64->64->128, output
# stride 8), pyramid pooling (1, 2, 3, 6; 512 channels per bin), dropout 0.1, deep-supervision
# head on layer3 (3x3 conv 1024->512) with loss weight 0.4. The torchvision-stem variant (7x7
# stem conv): the configs/pspnet_r101b-d8_* runs ("b" as in mmsegmentation's r101b configs).
model = dict(
    type="SegModel",
    model=dict(
        type="PSPNet",
        encoder="resnet101",
        stem="deep",
        num_classes=13,
        # the reference's ImageNet weights; nothing is downloaded: put CSAIL's deep-stem file
        # http://sceneparsing.csail.mit.edu/model/pretrained_resnet/resnet101-imagenet.pth
        # here (see segood.models.pretrained) or set None to train from scratch
        pretrained="pretrained/resnet101-imagenet.pth",
        output_stride=8,
        bins=(1, 2, 3, 6),
        ppm_channels=512,
        dropout=0.1,
        aux_weight=0.4,
        aux_channels=512,
    ),
    ignore_index=255,
    loss_at="full",  # "feature": the reference's loss at 1/8 with nearest-downsampled labels
    channels_last=False,  # GPU speed switch
)
