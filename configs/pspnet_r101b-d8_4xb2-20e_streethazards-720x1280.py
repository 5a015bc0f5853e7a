# The paper's schedule on StreetHazards with a torchvision-stem ResNet-101 (one 7x7 stem conv, built
# through segmentation-models-pytorch, every conv of layer3/layer4 dilated at the full rate;
# torchvision's ImageNet weights) instead of the reference's deep stem; a 256-channel auxiliary
# head, 512 channels per pyramid bin. Everything else as the paper's run it inherits.
# torchrun --nproc-per-node 4 tools/train.py \
#     configs/pspnet_r101b-d8_4xb2-20e_streethazards-720x1280.py --launcher pytorch
_base_ = ["./pspnet_r101-d8_4xb2-20e_streethazards-720x1280.py"]
model = dict(
    model=dict(
        stem="torchvision",
        # a torchvision resnet101 state dict; nothing is downloaded (see README)
        pretrained="pretrained/resnet101_imagenet.pth",
        aux_channels=256,
    )
)
