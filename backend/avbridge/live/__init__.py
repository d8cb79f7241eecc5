"""Sans-IO conversation logic for live sessions: the user's voice and face in, turn events,
listening cues and puppet lips out (input.py), and who holds the turn (turns.py)."""
