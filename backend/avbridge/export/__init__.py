"""Writing a take to files a person or a DCC tool can open: wav, Live Link Face CSV, events, plot."""

from avbridge.export.files import write_csv, write_events, write_take, write_wav

__all__ = ["write_csv", "write_events", "write_take", "write_wav"]
