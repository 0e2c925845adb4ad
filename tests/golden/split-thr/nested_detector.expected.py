_base_ = './_base_/models/faster-rcnn_r50_fpn.py'
# A tracker wrapping the detector, as masktrack_rcnn does.
detector = _base_.model
detector.train_cfg.rpn_proposal.update(dict(nms_pre=4000))
model = dict(type='MaskTrackRCNN', detector=detector)
del _base_.model

# autofix split-thr: more than the boxes this RPN can hand batched_nms, so it never splits
detector['train_cfg']['rpn_proposal']['nms']['split_thr'] = 20001
model['detector']['train_cfg']['rpn_proposal']['nms']['split_thr'] = 20001
