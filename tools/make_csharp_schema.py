"""Write unity_plugin/Runtime/Core/Protocol/Schema.cs from the Python message table, so the C#
client and the Python reference can never disagree on a field. tests/test_csharp_schema.py fails
when the file is stale.

    python tools/make_csharp_schema.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.protocol.schema import MAX_BULK_BYTES, MAX_HEADER_BYTES, TYPES, VERSION  # noqa: E402

TARGET = ROOT / "unity_plugin" / "Runtime" / "Core" / "Protocol" / "Schema.cs"

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

        public MessageType(string name, string sender, int bulk, string bulkKind, string[] required, string[] optional)
        {
            Name = name; Sender = sender; Bulk = bulk; BulkKind = bulkKind;
            for (int i = 0; i < required.Length; i += 2) Required.Add(new KeyValuePair<string, string>(required[i], required[i + 1]));
            for (int i = 0; i < optional.Length; i += 2) Optional.Add(new KeyValuePair<string, string>(optional[i], optional[i + 1]));
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
        lines.append(f'            Add(new MessageType("{t.name}", "{t.sender}", {t.bulk}, "{t.bulk_kind}",\n'
                     f'                new string[] {{ {required} }},\n'
                     f'                new string[] {{ {optional} }}));')
    return HEAD % {"version": VERSION, "header": MAX_HEADER_BYTES, "bulk": MAX_BULK_BYTES} + "\n".join(lines) + "\n" + TAIL


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET.relative_to(ROOT)}")
