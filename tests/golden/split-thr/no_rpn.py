model = dict(
    type='RetinaNet',
    bbox_head=dict(type='RetinaHead', num_classes=80),
    train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5)),
    test_cfg=dict(nms_pre=1000, nms=dict(type='nms', iou_threshold=0.5)))
