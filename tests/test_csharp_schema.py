import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "make_csharp_schema.py"


def test_the_csharp_message_table_matches_the_python_one():
    spec = importlib.util.spec_from_file_location("make_csharp_schema", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.TARGET.read_text() == tool.render(), "run: python tools/make_csharp_schema.py"
    assert tool.NAMES_TARGET.read_text() == tool.render_names(), "run: python tools/make_csharp_schema.py"
