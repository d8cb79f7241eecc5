"""The `avbridge` command: serve, say, demo, bench. Thin: the work is in the package."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import Iterator

import zmq

from avbridge.cli.logs import setup_logging
from avbridge.client import ServerError, ServerGone, TimedOut
from avbridge.core.extras import missing_extra_sentence
from avbridge.server.config import ServerConfig

log = logging.getLogger("avbridge")

DEMO_TEXT = (
    "Hello! I'm your avatar, and my voice, face and head motion all come from one stream. "
    "Bob bought a big map for fifteen dollars, and maybe we'll explore the mountains by May. "
    "Watch my lips close on every p, b and m."
)


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--voice", default="piper", choices=["piper", "espeak"], help="speech engine (default: piper)")
    p.add_argument("--fps", type=float, default=60.0, help="animation frames per second (default: 60)")
    p.add_argument("--motion", default="procedural",
                   help="motion generator: procedural (default) or flow:CHECKPOINT (from `avbridge train`)")


def _chat_args(p: argparse.ArgumentParser) -> None:
    chat = p.add_argument_group("conversation (chat sessions: the avatar answers through a language model)")
    chat.add_argument("--llm", default="local", metavar="MODEL",
                      help="'local' (the bundled SmolLM2-135M-Instruct on llama.cpp, default), a GGUF file, an "
                           "OpenAI-compatible endpoint (Ollama: http://127.0.0.1:11434/v1, llama.cpp's server: "
                           "http://127.0.0.1:8080/v1), or 'off'; an API key comes from AVBRIDGE_LLM_API_KEY")
    chat.add_argument("--llm-model", default="", metavar="NAME", help="the endpoint's model (default: the first it lists)")
    chat.add_argument("--llm-timeout", type=float, default=20.0, metavar="SECONDS",
                      help="a reply silent this long ends with reply_error (default: 20)")


def _chat_config(args) -> dict:
    return {"llm": args.llm, "llm_model": args.llm_model, "llm_timeout_s": args.llm_timeout}


def _logging_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", default="text", choices=["text", "json"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avbridge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    web = sub.add_parser("web", help="a web page to talk with the avatar (microphone or keyboard; loopback)")
    web.add_argument("--host", default="127.0.0.1", help="address the page is served on (default: loopback)")
    web.add_argument("--port", type=int, default=8765, help="port of the page (default: 8765; 0 picks a free one)")
    web.add_argument("--connect", help="a running server's endpoint; default: start one in-process")
    _server_args(web)
    _chat_args(web)
    _logging_args(web)

    serve = sub.add_parser("serve", help="run the streaming server")
    serve.add_argument("--bind", default="tcp://127.0.0.1:5570", help="ROUTER endpoint (default: loopback)")
    serve.add_argument("--mirror", default="tcp://127.0.0.1:5571", help="XPUB mirror endpoint, or 'off'")
    serve.add_argument("--workers", type=int, default=None, help="generator threads (default: cores - 1)")
    serve.add_argument("--lead", type=float, default=0.5, help="seconds streams run ahead of real time")
    outputs = serve.add_argument_group("outputs for Unreal and VTuber apps (docs/unreal.md, docs/vtuber.md)")
    outputs.add_argument("--livelink", action="append", default=[], metavar="HOST:PORT",
                         help="send every session's frames as Live Link Face packets (Unreal: 127.0.0.1:11111); repeatable")
    outputs.add_argument("--livelink-subject", default="", metavar="NAME",
                         help="Live Link subject name (further sessions get NAME-2, NAME-3...; default avbridge-<session>)")
    outputs.add_argument("--vmc", action="append", default=[], metavar="HOST:PORT",
                         help="send every session's frames to a VMC receiver (VSeeFace, Warudo: 127.0.0.1:39539); repeatable")
    outputs.add_argument("--vmc-names", default="vrm0", choices=["vrm0", "vrm1", "arkit"],
                         help="VMC blendshape names: VRM 0.x presets, VRM 1.0 expressions, or ARKit (perfect sync)")
    outputs.add_argument("--allow-remote-outputs", action="store_true",
                         help="allow Live Link and VMC targets on other machines (unencrypted UDP)")
    outputs.add_argument("--output-delay", type=float, default=0.0, metavar="SECONDS",
                         help="send Live Link and VMC frames this late, to match the audio output's latency")
    outputs.add_argument("--play-audio", nargs="?", const="default", metavar="DEVICE",
                         help="play the speech on this machine's output device (default: the system's), "
                              "in sync with the Live Link and VMC frames (needs the audio extra)")
    outputs.add_argument("--takes", metavar="DIR", help="write each line as DIR/<session>/<utterance>/speech.wav + "
                                                        "track.csv, timecoded like the Live Link packets")
    cluster = serve.add_argument_group("scale-out on Ray (sessions on worker processes across machines; docs/benchmarks.md)")
    cluster.add_argument("--cluster", metavar="ADDRESS",
                         help="'local' (start a Ray cluster on this machine, loopback only) or a running cluster's "
                              "address (host:6379, or 'auto'); this process becomes the front door engines connect to")
    cluster.add_argument("--cluster-workers", type=int, metavar="N", help="worker processes (default: one per CPU the cluster has)")
    cluster.add_argument("--cluster-worker-cpus", type=float, default=1.0, metavar="CPUS", help="CPUs Ray reserves per worker (default: 1)")
    cluster.add_argument("--cluster-cpus", type=int, metavar="N", help="with 'local': CPUs the local cluster offers (default: all)")
    security = serve.add_argument_group("security (CurveZMQ; a bind beyond loopback needs it, or --insecure)")
    security.add_argument("--curve-secret", metavar="FILE", help="the server's secret key file (NAME.key_secret from `avbridge keys`)")
    security.add_argument("--curve-clients", metavar="DIR", help="a folder of allowed clients' public key files (*.key)")
    security.add_argument("--insecure", action="store_true",
                          help="serve beyond loopback without encryption or authentication (a network you trust)")
    _server_args(serve)
    _chat_args(serve)
    _logging_args(serve)

    keys = sub.add_parser("keys", help="make a CURVE key pair: DIR/NAME.key (public, hand it out) and DIR/NAME.key_secret (keep it)")
    keys.add_argument("name", help="e.g. server, or a client's name")
    keys.add_argument("--out", default="keys", help="folder (default: ./keys)")
    _logging_args(keys)

    say = sub.add_parser("say", help="speak TEXT and write speech.wav, track.csv, events.jsonl, plot.png")
    say.add_argument("text")
    say.add_argument("--out", default="out", help="output folder (default: ./out)")
    say.add_argument("--connect", help="a running server's endpoint; default: start one in-process")
    say.add_argument("--emotion", help="auto (from each sentence's text), neutral, happy, sad, angry, surprised, concerned")
    _server_args(say)
    _logging_args(say)

    demo = sub.add_parser("demo", help="say a few sentences and write the take to --out")
    demo.add_argument("--out", default="demo_out")
    demo.add_argument("--connect", help="a running server's endpoint; default: start one in-process")
    _server_args(demo)
    _logging_args(demo)

    portrait = sub.add_parser("portrait", help="animate one photo: speak TEXT (or --audio) and write portrait.mp4, "
                                               "portrait_sheet.png and the take")
    portrait.add_argument("image", help="a photo with one face, looking roughly at the camera")
    portrait.add_argument("text", nargs="?", default="", help="what to say (with --audio: the words of the recording, optional)")
    portrait.add_argument("--audio", help="a wav of speech to animate instead of speaking TEXT")
    portrait.add_argument("--out", default="portrait_out", help="output folder (default: ./portrait_out)")
    portrait.add_argument("--size", type=int, default=512, help="the photo's longer side is scaled to at most this")
    portrait.add_argument("--video-fps", type=float, default=30.0)
    portrait.add_argument("--connect", help="a running server's endpoint; default: start one in-process")
    portrait.add_argument("--emotion", help="auto, neutral, happy, sad, angry, surprised, concerned")
    _server_args(portrait)
    _logging_args(portrait)

    inspect = sub.add_parser("inspect", help="a take (folder from `avbridge say`, or a Live Link Face CSV) as a PNG sheet of curves")
    inspect.add_argument("take")
    inspect.add_argument("--compare", help="a second take, drawn beside the first")
    inspect.add_argument("--out", help="PNG path (default: TAKE_sheet.png beside the take)")
    _logging_args(inspect)

    preview = sub.add_parser("preview", help="render a take on the ARKit reference face: preview.mp4 (with audio) and contact_sheet.png")
    preview.add_argument("take")
    preview.add_argument("--out", help="output folder (default: the take's folder)")
    preview.add_argument("--fps", type=float, default=30.0)
    preview.add_argument("--size", type=int, default=512)
    _logging_args(preview)

    dataset = sub.add_parser("dataset", help="import captures (KIND:WHERE, see --help) into a training corpus folder")
    dataset.add_argument("--data", action="append", required=True, metavar="KIND:WHERE",
                         help="facegood:DIR, livelink:CSV[,AUDIO], video:FILE, synthetic:N or corpus:DIR (repeatable)")
    dataset.add_argument("--out", required=True, help="corpus folder to write")
    _logging_args(dataset)

    train = sub.add_parser("train", help="train the flow-matching motion model on captures (CPU, or a GPU when there is one)")
    train.add_argument("--data", action="append", required=True, metavar="KIND:WHERE",
                       help="facegood:DIR, livelink:CSV[,AUDIO], video:FILE, synthetic:N or corpus:DIR (repeatable)")
    train.add_argument("--val", action="append", default=[], metavar="CLIP", help="hold out this clip for validation (repeatable)")
    train.add_argument("--out", default="runs/flow", help="checkpoint folder: last.pt, best.pt and their .json sidecars")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--steps-per-epoch", type=int, default=400)
    train.add_argument("--batch", type=int, default=32)
    train.add_argument("--lr", type=float, default=3e-4)
    train.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda")
    train.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    train.add_argument("--size", default="default", choices=["tiny", "default", "paper"],
                       help="network size: tiny (tests), default (256-d, 4+4 blocks), paper (AV-Flow's 512-d)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--no-progress", action="store_true", help="no progress bar (logs one line an epoch)")
    _logging_args(train)

    bench = sub.add_parser("bench", help="latency, real-time factor, jitter and CPU over real sockets")
    bench.add_argument("--sessions", default="1,10,50", help="concurrent session counts (default: 1,10,50)")
    bench.add_argument("--seconds", type=float, default=8.0, help="length of each streaming run")
    bench.add_argument("--repeats", type=int, default=20, help="say requests for the latency figures")
    bench.add_argument("--markdown", help="also append the tables to this Markdown file")
    _server_args(bench)
    _logging_args(bench)
    return parser


@contextlib.contextmanager
def _endpoint(args) -> Iterator[str]:
    """The endpoint to talk to: --connect, or a server started here on a free loopback port."""
    if args.connect:
        yield args.connect
        return
    from avbridge.server.transport import Server
    server = Server(ServerConfig(endpoint="tcp://127.0.0.1:0", mirror_endpoint=None,
                                 voice=args.voice, fps=args.fps, motion=args.motion)).start()
    try:
        yield server.endpoint
    finally:
        server.stop()


def _say_to_files(args, text: str, out: Path) -> int:
    from avbridge.client import Client
    from avbridge.core.phonemes import Phoneme
    from avbridge.motion.metrics import lip_closure
    from avbridge.takes.write import write_take

    with _endpoint(args) as endpoint, Client(endpoint, timeout=120) as client:
        session = client.open(fps=args.fps, voice=args.voice, realtime=False)
        t0 = time.monotonic()
        options = {"emotion": args.emotion} if getattr(args, "emotion", None) else {}
        result = session.say(text, timeout=300, **options)
        first_audio_ms = (result.first_audio_at - t0) * 1000 if result.first_audio_at else float("nan")
        paths = write_take(out, result.pcm, result.sample_rate, result.track, result.events,
                           result.start, title=text[:120])
    phonemes = [Phoneme(e["phoneme"], e["time"] - result.start, e["end"] - result.start)
                for e in result.events if e["name"] == "phoneme"]
    score = lip_closure(result.track, phonemes)
    print(f"said {len(text)} characters: {result.duration:.2f} s of audio at {result.sample_rate} Hz, "
          f"{len(result.track)} frames at {result.track.fps:g} fps; first audio after {first_audio_ms:.0f} ms")
    print(f"lips closed on {score.closed_bilabials} of {score.bilabials} p/b/m")
    for kind, path in paths.items():
        print(f"  {kind:6s} {path}")
    return 0


def _portrait(args) -> int:
    """Fit the photo first (a photo that cannot be animated fails before any speech is made),
    then make the take, then render it on the photo."""
    from avbridge.render.portrait import PortraitDecoder, fit_portrait
    from avbridge.render.portrait.fit import load_image
    from avbridge.render.portrait.video import render_portrait_video
    from avbridge.takes.read import load_take

    out = Path(args.out)
    decoder = PortraitDecoder(fit_portrait(load_image(Path(args.image).read_bytes(), args.size)))
    if args.audio:
        from avbridge.client import Client
        from avbridge.core.audio import read_wav_mono
        from avbridge.takes.write import write_take
        pcm, rate = read_wav_mono(args.audio)
        with _endpoint(args) as endpoint, Client(endpoint, timeout=120) as client:
            session = client.open(fps=args.fps, voice=args.voice, realtime=False)
            result = session.speak_audio(pcm, rate, text=args.text or None, timeout=300)
        write_take(out, pcm, rate, result.track, result.events, result.start, title=Path(args.audio).name)
    elif args.text.strip():
        _say_to_files(args, args.text, out)
    else:
        raise ValueError("give the text to say, or --audio with a recording")
    for kind, path in render_portrait_video(load_take(out), decoder, out, args.video_fps).items():
        print(f"  {kind:6s} {path}")
    return 0


def _play_if_possible(wav: Path) -> None:
    try:
        import sounddevice  # optional: pip install -e ".[audio]"
    except (ImportError, OSError):
        print("(no audio playback: install sounddevice to hear the take; the wav is written)")
        return
    from avbridge.core.audio import read_wav_mono
    pcm, rate = read_wav_mono(wav)
    try:
        sounddevice.play(pcm, rate, blocking=True)
    except Exception as exc:  # sounddevice imports without a device, then fails here
        print(f"(no sound device: {exc})")


def main(argv: list[str] | None = None) -> int:
    """Run one command. A user's mistake (a missing file, a bad take or checkpoint, an address in
    use, an extra not installed, a server that refuses) is one sentence on stderr and exit code 2,
    never a traceback; `--log-level debug` shows the traceback too."""
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        return _run(args)
    except (ImportError, zmq.ZMQError, TimedOut, ServerGone, ServerError, OSError, ValueError) as exc:
        if args.log_level == "debug":
            raise
        print(f"error: {_sentence(args, exc)}", file=sys.stderr)
        return 2


def _sentence(args, exc: Exception) -> str:
    if isinstance(exc, ImportError):
        return missing_extra_sentence(exc)
    if isinstance(exc, zmq.ZMQError):
        where = getattr(args, "bind", None) or getattr(args, "connect", None) or "the socket"
        return f"cannot use {where}: {exc}"
    if isinstance(exc, ServerError):
        return f"the server refused: {exc.message} ({exc.code})"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    # CheckpointError, DatasetError, TakeError and WavError are ValueErrors that carry their sentence.
    return str(exc)


def _serve_cluster(args, config: ServerConfig) -> int:
    from avbridge.server.cluster.front_door import ClusterServer
    if config.mirror_endpoint:
        log.info("the mirror is not served by a cluster front door; observers connect to a single server")
        config.mirror_endpoint = None
    server = ClusterServer(config, address=args.cluster, workers=args.cluster_workers,
                           worker_cpus=args.cluster_worker_cpus, cpus=args.cluster_cpus)
    server.serve_forever(handle_signals=True)
    return 0


def _web(args) -> int:
    try:
        from avbridge.web.gateway import serve as serve_page
    except ImportError as e:
        print(f"avbridge web: {e.name} is missing: pip install 'avbridge[web]'", file=sys.stderr)
        return 2
    server = None
    endpoint = args.connect
    if endpoint is None:
        from avbridge.server.transport import Server
        server = Server(ServerConfig(endpoint="tcp://127.0.0.1:0", mirror_endpoint=None, voice=args.voice, fps=args.fps,
                                     motion=args.motion, **_chat_config(args))).start()
        endpoint = server.endpoint
        if "chat" not in server.service.capabilities:
            from avbridge.dialogue.models import chat_available
            print(f"avbridge web: the avatar cannot chat here: {chat_available(args.llm) or 'the live extra is missing'}",
                  file=sys.stderr)

    def ready(url: str) -> None:
        print(f"avbridge web: open {url} (the avatar's server: {endpoint}); Ctrl-C stops", flush=True)
        # Then warm the model, so the page's first question does not wait for it. Not before:
        # llama-cpp-python points this process's stdout at /dev/null while it loads a model,
        # and the line above went missing when the two met.
        if server is not None and "chat" in server.service.capabilities:
            server.service.chat.prewarm()
    import signal

    def stop(signum, frame) -> None:
        raise KeyboardInterrupt
    # Ctrl-C and a service manager's SIGTERM both stop it cleanly, even when the parent process
    # started it with SIGINT ignored (which Python would otherwise keep).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)
    try:
        serve_page(endpoint, args.host, args.port, ready=ready)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.stop()
    return 0


def _run(args) -> int:
    if args.command == "serve":
        from avbridge.server.transport import Server
        config = ServerConfig(endpoint=args.bind, mirror_endpoint=None if args.mirror == "off" else args.mirror,
                              voice=args.voice, fps=args.fps, lead_s=args.lead, motion=args.motion,
                              livelink=args.livelink, livelink_subject=args.livelink_subject, vmc=args.vmc,
                              vmc_names=args.vmc_names, allow_remote_outputs=args.allow_remote_outputs,
                              output_delay_s=args.output_delay, takes_dir=args.takes, play_audio=args.play_audio,
                              curve_secret=args.curve_secret, curve_clients=args.curve_clients, insecure=args.insecure,
                              **_chat_config(args))
        if args.workers:
            config.workers = args.workers
        from avbridge.core.keys import KeyFileError
        from avbridge.server.outputs import OutputError
        if args.cluster:
            return _serve_cluster(args, config)
        try:
            server = Server(config)
        except (OutputError, KeyFileError) as e:
            print(f"avbridge serve: {e}", file=sys.stderr)
            return 2
        server.service.engine(config.voice)   # load the voice before the first client waits on it
        server.serve_forever(handle_signals=True)
        return 0
    if args.command == "web":
        return _web(args)
    if args.command == "keys":
        from avbridge.core.keys import make_keys
        public, secret = make_keys(Path(args.out), args.name)
        print(f"  public {public}  (give it to the other side: a server's to its clients, a client's into the "
              f"server's --curve-clients folder)")
        print(f"  secret {secret}  (keep it: the server's goes to --curve-secret)")
        return 0
    if args.command == "say":
        return _say_to_files(args, args.text, Path(args.out))
    if args.command == "demo":
        code = _say_to_files(args, DEMO_TEXT, Path(args.out))
        _play_if_possible(Path(args.out) / "speech.wav")
        return code
    if args.command == "portrait":
        return _portrait(args)
    if args.command == "inspect":
        from avbridge.takes.inspect import inspect_sheet
        from avbridge.takes.read import load_take
        takes = [load_take(args.take)] + ([load_take(args.compare)] if args.compare else [])
        out = Path(args.out) if args.out else Path(str(Path(args.take).with_suffix("")) + "_sheet.png")
        print(f"wrote {inspect_sheet(takes, out)}")
        return 0
    if args.command == "preview":
        from avbridge.render.preview import render_preview
        from avbridge.takes.read import load_take
        take = load_take(args.take)
        out = Path(args.out) if args.out else (Path(args.take) if Path(args.take).is_dir() else Path(args.take).parent)
        for kind, path in render_preview(take, out, args.fps, args.size).items():
            print(f"  {kind:6s} {path}")
        return 0
    if args.command in ("dataset", "train"):
        from avbridge.cli.train import command
        return command(args)
    if args.command == "bench":
        from avbridge.cli.bench import run_bench
        return run_bench(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
