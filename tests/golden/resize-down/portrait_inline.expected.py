# No inheritance; the train pipeline is written inline in the dataloader, as a portrait pair.
train_dataloader = dict(
    batch_size=2,
    dataset=dict(
        type='CocoDataset',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=[800, 1333], keep_ratio=True),
            dict(type='PackDetInputs'),
        ]))
test_dataloader = dict(
    batch_size=1,
    dataset=dict(
        type='CocoDataset',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=[1600, 2666], keep_ratio=True),
            dict(type='PackDetInputs'),
        ]))
