_base_ = './_base_/yolox_amp.py'

# 8 GPUs x 4 samples
train_dataloader = dict(batch_size=4, num_workers=4)
