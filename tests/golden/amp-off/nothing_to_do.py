_base_ = './_base_/schedule_1x.py'

# optim_wrapper = dict(type='AmpOptimWrapper') would enable mixed precision
optim_wrapper = dict(optimizer=dict(lr=0.01))
val_cfg = dict(type='ValLoop', fp16=True)  # test-time fp16 is another switch
