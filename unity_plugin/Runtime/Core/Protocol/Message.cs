using System;
using System.Collections.Generic;

namespace Avbridge.Core.Protocol
{
    /// <summary>One protocol message: type, sequence number, fields (string keys; values are
    /// string, long, double, bool, List&lt;object&gt;) and raw bulk frames.</summary>
    public sealed class Message
    {
        public string Type;
        public long Seq;
        public int Version = Schema.Version;
        public readonly Dictionary<string, object> Fields = new Dictionary<string, object>();
        public readonly List<byte[]> Bulk = new List<byte[]>();

        public Message(string type) { Type = type; }

        public Message With(string field, object value)
        {
            Fields[field] = value;
            return this;
        }

        public bool Has(string field) { return Fields.ContainsKey(field); }

        public string Str(string field) { return (string)Fields[field]; }

        public long Long(string field) { return Convert.ToInt64(Fields[field]); }

        public double Double(string field) { return Convert.ToDouble(Fields[field]); }

        public bool Bool(string field) { return (bool)Fields[field]; }

        public string StrOr(string field, string fallback)
        {
            object v;
            return Fields.TryGetValue(field, out v) ? (string)v : fallback;
        }

        public string Session { get { return StrOr("session", null); } }

        public override string ToString() { return Type + "#" + Seq; }
    }
}
