"""The bottom floor: types and helpers every other package imports, and which import nothing of
avbridge's own above them.

    arkit.py     the ARKit-52 names and the Live Link Face column order
    track.py     Track: blendshapes, head pose and gaze on a frame grid
    phonemes.py  Phoneme, Word and SpeechChunk: what a speech engine gives the motion
    audio.py     sample rates, WAV reading and writing, resampling
    rotation.py  head rotations (yaw, pitch, roll <-> quaternion, slerp) through scipy
"""
