"""Outputs for tools that are not our engine plugins: Live Link Face UDP for Unreal
(livelink.py), VMC over OSC for VTuber apps (vmc.py), and the stage timecode both carry
(timecode.py). Sans-IO: the sockets and the pacing are server/outputs.py."""
