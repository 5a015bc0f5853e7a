# Outlier exposure (Hendrycks et al., ICLR 2019) of the demo PSPNet
# (configs/demo/pspnet-conf_r18-d8-c128_1xb4-150i_sim-demo-128x224.py, trained by `make demo`;
# its confidence branch is left out) for 120 iterations of 4 images, with 1-3 sprites of the
# sim props reserved for outlier exposure pasted into every training image (labelled 254 =
# segood.data.paste.OUTLIER_INDEX). Those props are never placed as test anomalies
# (sim/server/props.py), so the test set's objects stay unseen.
# loss = CE on in-distribution pixels + 0.5 * mean over outlier pixels of the cross-entropy to
# the uniform distribution (-mean_k log softmax_k).
# Everything but the loss is the energy fine-tuning config's.
#     python tools/make_outlier_sprites.py --out demo_out/outlier_sprites
#     python tools/train.py configs/outlier/pspnet_r18-d8-c128_1xb4-120i-oe-ft_sim-demo-128x224.py \
#         --work-dir demo_out/work_dirs/pspnet-oe-ft --resume
_base_ = ["./pspnet_r18-d8-c128_1xb4-120i-energy-ft_sim-demo-128x224.py"]
model = dict(outlier=dict(type="oe", weight=0.5))
