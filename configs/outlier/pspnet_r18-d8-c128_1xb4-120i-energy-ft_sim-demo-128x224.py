# Energy-bounded fine-tuning (Liu et al., NeurIPS 2020) of the demo PSPNet
# (configs/demo/pspnet-conf_r18-d8-c128_1xb4-150i_sim-demo-128x224.py, trained by `make demo`;
# its confidence branch is left out) for 120 iterations of 4 images, with 1-3 sprites of the
# sim props reserved for outlier exposure pasted into every training image (labelled 254 =
# segood.data.paste.OUTLIER_INDEX). Those props are never placed as test anomalies
# (sim/server/props.py), so the test set's objects stay unseen.
# loss = CE + 0.1 * [mean_in relu(E - m_in)^2 + mean_out relu(m_out - E)^2] per pixel, with
# m_in, m_out = mean -/+ std of the pre-trained model's in-distribution pixel energies on the
# first fine-tuning batch (segood.models.outlier_losses.relative_margins).
#     python tools/make_outlier_sprites.py --out demo_out/outlier_sprites
#     python tools/train.py \
#         configs/outlier/pspnet_r18-d8-c128_1xb4-120i-energy-ft_sim-demo-128x224.py \
#         --work-dir demo_out/work_dirs/pspnet-energy-ft --resume
#     python tools/eval_caos.py \
#         configs/outlier/pspnet_r18-d8-c128_1xb4-120i-energy-ft_sim-demo-128x224.py \
#         --checkpoint demo_out/work_dirs/pspnet-energy-ft/iter_120.pth
_base_ = ["../demo/pspnet_r18-d8-c128_1xb4-150i_sim-demo-128x224.py"]
iters = 120
outlier_sprites = "demo_out/outlier_sprites"
load_from = "demo_out/work_dirs/pspnet-conf/iter_150.pth"  # weights only; --resume continues
model = dict(outlier=dict(type="energy", weight=0.1))  # margins: from the pre-trained ID energies
train_dataloader = dict(
    dataset=dict(
        transform=dict(paste=dict(folder=outlier_sprites, count=(1, 3), scale=(0.08, 0.3))),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=1e-4))  # a tenth of the training learning rate
param_scheduler = [dict(type="PolyLR", power=0.9, eta_min=0.0, begin=0, end=iters, by_epoch=False)]
train_cfg = dict(max_iters=iters, val_interval=iters)
