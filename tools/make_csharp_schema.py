"""Write the C# files that mirror Python tables: Protocol/Schema.cs (the message table) and
Mapping/ArkitNames.cs (the 52 blendshape names, in protocol order), so the Unity client and the
Python reference can never disagree. tests/test_csharp_schema.py fails when either is stale.

    python tools/make_csharp_schema.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.core.arkit import ARKIT_BLENDSHAPES  # noqa: E402
from avbridge.protocol.schema import (  # noqa: E402
    MAX_BULK_BYTES,
    MAX_HEADER_BYTES,
    RANGES,
    TYPES,
    VERSION,
)

CORE = ROOT / "unity_plugin" / "Runtime" / "Core"
TARGET = CORE / "Protocol" / "Schema.cs"
NAMES_TARGET = CORE / "Mapping" / "ArkitNames.cs"

NAMES = '''// The 52 ARKit blendshapes in protocol order (frame values 0-51), as in backend/avbridge/arkit.py.
// Written by tools/make_csharp_schema.py: edit the Python list, then run the tool.
namespace Avbridge.Core.Mapping
{
    public static class ArkitNames
    {
        public static readonly string[] All =
        {
%(names)s
        };

        public static int IndexOf(string name)
        {
            for (int i = 0; i < All.Length; i++)
                if (string.Equals(All[i], name, System.StringComparison.OrdinalIgnoreCase)) return i;
            return -1;
        }
    }
}
'''

HEAD = '''// The message table of protocol v1 (protocol/SPEC.md section 6), the same as the Python
// reference's backend/avbridge/protocol/schema.py. Field kinds: str, uint, int, float, bool,
// strs (array of str), uints (array of uint), map.
// Written by tools/make_csharp_schema.py from the Python table: edit that table, then run the tool.
using System.Collections.Generic;

namespace Avbridge.Core.Protocol
{
    public sealed class MessageType
    {
        public readonly string Name;
        public readonly string Sender;
        public readonly int Bulk;
        public readonly string BulkKind;
        public readonly List<KeyValuePair<string, string>> Required = new List<KeyValuePair<string, string>>();
        public readonly List<KeyValuePair<string, string>> Optional = new List<KeyValuePair<string, string>>();
        // Inclusive value ranges of request fields (SPEC 6.1), checked right after each field's kind.
        public readonly Dictionary<string, double[]> Ranges = new Dictionary<string, double[]>();

        public MessageType(string name, string sender, int bulk, string bulkKind, string[] required, string[] optional)
        {
            Name = name; Sender = sender; Bulk = bulk; BulkKind = bulkKind;
            for (int i = 0; i < required.Length; i += 2) Required.Add(new KeyValuePair<string, string>(required[i], required[i + 1]));
            for (int i = 0; i < optional.Length; i += 2) Optional.Add(new KeyValuePair<string, string>(optional[i], optional[i + 1]));
        }

        public MessageType Range(string field, double lo, double hi)
        {
            Ranges[field] = new[] { lo, hi };
            return this;
        }

        public string KindOf(string field)
        {
            foreach (var f in Required) if (f.Key == field) return f.Value;
            foreach (var f in Optional) if (f.Key == field) return f.Value;
            return null;
        }
    }

    public static class Schema
    {
        public const int Version = %(version)d;
        public const int MaxHeaderBytes = %(header)d;
        public const int DefaultMaxBulkBytes = %(bulk)d;
        public const string Client = "client";
        public const string Server = "server";
        public const int FrameWidth = 63;

        public static readonly Dictionary<string, MessageType> Types = new Dictionary<string, MessageType>();

        static void Add(MessageType t) { Types[t.Name] = t; }

        static Schema()
        {
'''
TAIL = '''        }
    }
}
'''


def render() -> str:
    lines = []
    for t in TYPES.values():
        required = ", ".join(f'"{k}", "{v}"' for k, v in t.required.items())
        optional = ", ".join(f'"{k}", "{v}"' for k, v in t.optional.items())
        ranges = "".join(f'\n                .Range("{k}", {lo!r}, {hi!r})' for k, (lo, hi) in RANGES.get(t.name, {}).items())
        lines.append(f'            Add(new MessageType("{t.name}", "{t.sender}", {t.bulk}, "{t.bulk_kind}",\n'
                     f'                new string[] {{ {required} }},\n'
                     f'                new string[] {{ {optional} }}){ranges});')
    return HEAD % {"version": VERSION, "header": MAX_HEADER_BYTES, "bulk": MAX_BULK_BYTES} + "\n".join(lines) + "\n" + TAIL


def render_names() -> str:
    return NAMES % {"names": "\n".join(f'            "{name}",' for name in ARKIT_BLENDSHAPES)}


if __name__ == "__main__":
    TARGET.write_text(render())
    NAMES_TARGET.write_text(render_names())
    print(f"wrote {TARGET.relative_to(ROOT)} and {NAMES_TARGET.relative_to(ROOT)}")
