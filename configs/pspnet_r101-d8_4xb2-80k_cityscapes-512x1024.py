# The paper configs' PSPNet (the CAOS reference's deep-stem dilated ResNet-101, CSAIL's
# ImageNet weights) trained on Cityscapes' 19 classes with mmsegmentation's
# pspnet_r101-d8_4xb2-80k_cityscapes-512x1024 recipe: 4 GPUs x 2 images, SyncBN, 512x1024
# crops, SGD lr 0.01 momentum 0.9 wd 5e-4, poly 0.9 to 1e-4, 80k iterations. The model the
# road-anomaly benchmarks are meant for:
# torchrun --nproc-per-node 4 tools/train.py \
#     configs/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py --launcher pytorch
# python tools/eval_caos.py configs/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py \
#     --checkpoint CKPT --dataset smiyc-anomaly smiyc-obstacle --data-root ROOT1 ROOT2
_base_ = [
    "./_base_/models/pspnet_r101-d8.py",
    "./_base_/datasets/cityscapes_512x1024.py",
    "./_base_/schedules/sgd-poly_80k.py",
    "./_base_/default_runtime.py",
]
model = dict(model=dict(num_classes=19))
sync_bn = "torch"
