"""Training data named on the command line: `KIND:WHERE` -> clips.

    facegood:DIR                  the FACEGOOD paired corpus (datasets/facegood.py)
    livelink:CSV[,AUDIO]          a Live Link Face take; AUDIO (wav, .mov, .mp4) defaults to the
                                  file beside the CSV with the same name (datasets/livelink_take.py)
    video:FILE                    any video of a face talking, tracked with MediaPipe (datasets/video.py)
    synthetic:N                   N sentences from the procedural generator, for smoke tests only
    corpus:DIR                    a corpus written by `avbridge dataset` (datasets/corpus.py)
"""

from __future__ import annotations

from avbridge.datasets.corpus import Clip, DatasetError, load

KINDS = ("facegood", "livelink", "video", "synthetic", "corpus")


def load_source(spec: str) -> list[Clip]:
    kind, sep, where = spec.partition(":")
    if not sep or kind not in KINDS:
        raise DatasetError(f"data {spec!r}: want KIND:WHERE with KIND one of {', '.join(KINDS)}")
    if kind == "facegood":
        from avbridge.datasets import facegood
        return facegood.clips(where)
    if kind == "corpus":
        return load(where)
    if kind == "livelink":
        from avbridge.datasets.livelink_take import load_take
        csv_path, _, audio = where.partition(",")
        return [load_take(csv_path, audio or None)]
    if kind == "video":
        from avbridge.datasets.video import load_video
        return [load_video(where)]
    from avbridge.datasets.synthetic import synthetic_clips
    try:
        count = int(where)
    except ValueError:
        raise DatasetError(f"data {spec!r}: synthetic wants a count of sentences") from None
    return synthetic_clips(count)


def load_sources(specs: list[str]) -> list[Clip]:
    clips: list[Clip] = []
    for spec in specs:
        clips.extend(load_source(spec))
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        doubled = sorted({n for n in names if names.count(n) > 1})
        raise DatasetError(f"two clips share a name: {', '.join(doubled)}")
    return clips


def split(clips: list[Clip], held_out: list[str]) -> tuple[list[Clip], list[Clip]]:
    """(training, validation): validation is the clips whose names end with one of `held_out`."""
    def named(clip: Clip, name: str) -> bool:     # "1114_3_16" names clip "facegood_1114_3_16"
        return clip.name == name or clip.name.endswith("_" + name)

    val = [c for c in clips if any(named(c, h) for h in held_out)]
    unknown = [h for h in held_out if not any(named(c, h) for c in clips)]
    if unknown:
        raise DatasetError(f"held-out clip(s) not in the data: {', '.join(unknown)}; have {', '.join(c.name for c in clips)}")
    return [c for c in clips if all(c is not v for v in val)], val
