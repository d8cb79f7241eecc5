"""The learned motion model: flow matching over a two-stream diffusion transformer (AV-Flow).

features.py  what the model reads and writes, frame by frame
dit.py       the network (velocity estimator)
cfm.py       conditional flow matching: loss and Euler sampling
model.py     network + normalisation + checkpoint files
generator.py windowed streaming inference behind the MotionGenerator interface (flow:PATH)
train.py     `avbridge train`: batches, validation metrics, resumable checkpoints
"""


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message says which file and why."""
