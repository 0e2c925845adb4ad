_base_ = './_base_/models/faster-rcnn_r50_fpn.py'
