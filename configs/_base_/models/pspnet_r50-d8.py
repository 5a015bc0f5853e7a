# The reference's PSPNet (see pspnet_r101-d8.py) on a dilated deep-stem ResNet-50: CSAIL's
# `resnet50dilated` + `ppm_deepsup`; ImageNet weights from CSAIL's model zoo
# (http://sceneparsing.csail.mit.edu/model/pretrained_resnet/resnet50-imagenet.pth).
_base_ = ["./pspnet_r101-d8.py"]
model = dict(model=dict(encoder="resnet50", pretrained="pretrained/resnet50-imagenet.pth"))
