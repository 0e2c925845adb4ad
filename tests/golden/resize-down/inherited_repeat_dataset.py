# Inherited from a RepeatDataset: the override reaches the wrapped dataset's pipeline.
_base_ = './_base_/repeat_large.py'
