# A custom dataset of three classes on mmdet 3.3.0's Cascade Mask R-CNN: the user named the classes
# and forgot the heads (three cascade stages and the mask head stay at COCO's 80).
_base_ = [
    './_base_/models/cascade-mask-rcnn_r50_fpn.py',
    './_base_/datasets/coco_instance.py',
]
data_root = 'data/fruit/'
metainfo = dict(classes=('apple', 'banana', 'cherry'), palette=[(220, 20, 60), (255, 255, 0), (128, 0, 0)])
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='train.json', data_prefix=dict(img='train/')))
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='val.json', data_prefix=dict(img='val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'val.json')
test_evaluator = val_evaluator
