"""Lines like mmcv's: only the per-class score write inside batched_nms gets the cast."""
import torch


def batched_nms(boxes, scores, idxs, nms_cfg, class_agnostic=False):
    scores_after_nms = scores.new_zeros(scores.size())
    for id in torch.unique(idxs):
        mask = (idxs == id).nonzero(as_tuple=False).view(-1)
        dets, keep = nms_op(boxes_for_nms[mask], scores[mask], **nms_cfg_)
        scores_after_nms[mask[keep]] = dets[:, -1].to(scores_after_nms.dtype)
        scores_after_nms[mask[keep]] = dets[:, -1].to(torch.float16)
        scores_after_nms[mask[keep]] = dets[:, -1].type_as(scores)
        scores_after_nms[mask[keep]] = dets[:, -1].type(torch.half)
        scores_after_nms[mask[keep]] += dets[:, -1]
        scores_after_nms[mask[keep]] = dets[:, 0]
        scores_after_nms[mask[keep]] = dets[1:, -1]
        scores_after_nms[mask[keep]] = dets[-1]
        scores_after_nms[mask[keep]] = self.dets[:, -1]
        total_scores[mask[keep]] = dets[:, -1]
        scores_after_nms = dets[:, -1]
        scores = dets[:, -1]
    return scores_after_nms


def multiclass_nms(dets, mask, keep, scores_after_nms):
    scores_after_nms[mask[keep]] = dets[:, -1]
    return scores_after_nms
