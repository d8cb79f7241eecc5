"""avbridge: a real-time talking-avatar backend for game engines and VR.

Text, engine-supplied speech or live input becomes speech audio, ARKit-52 blendshape weights,
6-DoF head pose and gaze on one session timeline, streamed over ZeroMQ (protocol/SPEC.md).
"""

__version__ = "0.1.0"
