"""Perception: live input -> features on the session clock.

    audio.py    16 kHz mono from any source (engine-sent PCM, files, a sound device), resampling
    vad.py      voice activity (Silero VAD) with onset and offset hysteresis, pitch and loudness
    phones.py   forced alignment of a known text (PocketSphinx), for evaluating lip sync
    asr.py      transcripts, partial and final (Whisper tiny.en through faster-whisper)
    face.py     the user's face from camera frames (MediaPipe FaceLandmarker), smoothed and calibrated

Every component takes audio as int16 at 16 kHz (`core.audio.ANALYSIS_RATE`) and reports times in seconds
from the first sample it was given, so files, devices and engine-sent PCM go through one path.
"""
