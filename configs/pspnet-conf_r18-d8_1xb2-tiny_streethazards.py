# The tiny CPU run with the confidence branch (lambda 0.1, budget 0.3).
_base_ = ["./pspnet_r18-d8_1xb2-tiny_streethazards.py"]
model = dict(model=dict(confidence_branch=True), confidence=dict(lam=0.1, budget=0.3))
