# Runtime shared by every segood training config (mmengine Runner).
custom_imports = dict(imports=["segood.engine"], allow_failed_imports=False)
default_scope = "mmengine"  # segood registers in mmengine's root registries

default_hooks = dict(
    runtime_info=dict(type="RuntimeInfoHook"),
    timer=dict(type="IterTimerHook"),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    logger=dict(type="LoggerHook", interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type="ParamSchedulerHook"),
    # atomic writes (temp file + os.replace); by iteration so a killed run loses little
    checkpoint=dict(
        type="AtomicCheckpointHook", by_epoch=False, interval=1000, max_keep_ckpts=2, save_last=True
    ),
)
# TrainStateHook: RNG streams + lambda in checkpoints, weights-only message hub (exact --resume)
custom_hooks = [dict(type="TrainStateHook"), dict(type="ProgressBarHook")]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="nccl"),  # tools/train.py switches to gloo without CUDA
)
# TensorBoard is dropped at build time when the tensorboard package is not installed
vis_backends = [dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")]
visualizer = dict(type="Visualizer", vis_backends=vis_backends)
log_processor = dict(by_epoch=False, window_size=50)
log_level = "INFO"
randomness = dict(seed=0, deterministic=False)  # a fixed seed makes --resume exact
load_from = None
resume = False
sync_bn = None  # "torch" in the multi-GPU configs (SyncBatchNorm, as in the paper)
