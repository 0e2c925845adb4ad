# mmdet 2.28.2's Faster R-CNN on a custom COCO-format dataset repeated three times per epoch, its
# classes named with --classes: the head and data.train/val/test.classes.
_base_ = ['./_base_/v2/faster_rcnn_r50_fpn.py', './_base_/v2/coco_detection.py']
data_root = 'data/kites/'
data = dict(
    train=dict(
        _delete_=True,
        type='RepeatDataset',
        times=3,
        dataset=dict(
            type='CocoDataset',
            ann_file=data_root + 'train.json',
            img_prefix=data_root + 'train/',
            pipeline={{_base_.train_pipeline}})),
    val=dict(ann_file=data_root + 'val.json', img_prefix=data_root + 'val/'),
    test=dict(ann_file=data_root + 'val.json', img_prefix=data_root + 'val/'))
