_base_ = './_base_/models/faster-rcnn_r50-caffe-c4.py'
# One level, 15 anchors a cell, nms_pre 12000: more than 10000 boxes even at 1333x800.
