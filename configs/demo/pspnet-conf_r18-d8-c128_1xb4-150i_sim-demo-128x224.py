# `make demo`: the small PSPNet with the confidence branch (DeVries & Taylor; lambda 0.1, budget
# 0.3). One network serves every scorer of the demo: the logit scorers read its logits, MC
# dropout its dropout passes, Branch its confidence.
_base_ = ["./pspnet_r18-d8-c128_1xb4-150i_sim-demo-128x224.py"]
model = dict(model=dict(confidence_branch=True), confidence=dict(lam=0.1, budget=0.3))
