#!/bin/sh
# System packages avbridge needs: espeak-ng (the fallback voice, loaded through its C library),
# PulseAudio and PortAudio (live microphone input and its device test), cmake and a C++ compiler
# (llama.cpp, built by pip), Chromium (the web page's browser test),
# python3-venv where the system Python lacks the venv module, and Mono with NUnit 2 for the Unity
# plugin's C# tests. Installs with apt-get as root or
# through sudo; otherwise says what to install and carries on (Piper, the default voice, works
# without them).
set -e
need=""
[ -e /usr/lib/x86_64-linux-gnu/libespeak-ng.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libespeak-ng.so.1 ] \
    || ldconfig -p 2>/dev/null | grep -q libespeak-ng.so.1 || need="$need espeak-ng"
python3 -c "import ensurepip, venv" 2>/dev/null || need="$need python3-venv"
# The Unity plugin's C# core and tests build with Debian's Mono (mcs) and run under nunit-console.
command -v mcs >/dev/null 2>&1 && [ -d /usr/lib/mono/4.7.2-api ] || need="$need mono-mcs mono-devel"
command -v nunit-console >/dev/null 2>&1 && ls /usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll >/dev/null 2>&1 \
    || need="$need nunit-console libnunit-cil-dev"
# A real audio device for the live-input test (a PulseAudio null sink) and PortAudio for sounddevice.
command -v pulseaudio >/dev/null 2>&1 && command -v paplay >/dev/null 2>&1 || need="$need pulseaudio pulseaudio-utils"
[ -e /usr/share/alsa/alsa.conf.d/50-pulseaudio.conf ] || [ -e /etc/alsa/conf.d/50-pulseaudio.conf ] || need="$need libasound2-plugins"
ldconfig -p 2>/dev/null | grep -q libportaudio.so.2 || need="$need libportaudio2"
# llama-cpp-python (the chat extra's local model) builds llama.cpp from source.
command -v cmake >/dev/null 2>&1 || need="$need cmake"
command -v g++ >/dev/null 2>&1 || need="$need build-essential"
# Chromium runs the web page's browser test (headless, with a fake microphone).
command -v chromium >/dev/null 2>&1 || need="$need chromium"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "avbridge: please install these Debian packages:$need" >&2
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    echo "avbridge: installing$need"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
else
    echo "avbridge: no apt-get here; please install:$need" >&2
fi
