// Sans-IO codec for protocol v1, the C# twin of backend/avbridge/protocol/codec.py: Message <->
// list of ZeroMQ frames. Checks run in SPEC.md section 7's order and fail with the same codes and
// sentences as the Python reference, so both can be tested against protocol/vectors.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using Avbridge.Core.Msgpack;

namespace Avbridge.Core.Protocol
{
    public static class Codec
    {
        static readonly Dictionary<string, string> KindNames = new Dictionary<string, string>
        {
            { "str", "a string" }, { "uint", "a non-negative integer" }, { "int", "an integer" },
            { "float", "a number" }, { "bool", "true or false" }, { "strs", "an array of strings" },
            { "uints", "an array of non-negative integers" }, { "map", "a map with string keys" },
        };

        public static List<byte[]> Encode(Message message)
        {
            MessageType spec;
            if (!Schema.Types.TryGetValue(message.Type, out spec))
                throw new ProtocolException("unknown_type", "unknown message type '" + message.Type + "'");
            var header = new Dictionary<string, object>
            {
                { "v", (long)message.Version }, { "type", message.Type }, { "seq", message.Seq },
            };
            foreach (var field in message.Fields)
            {
                if (field.Key == "v" || field.Key == "type" || field.Key == "seq")
                    throw new ArgumentException("field '" + field.Key + "' belongs to the header");
                string kind = spec.KindOf(field.Key);
                object value = field.Value;
                if (kind == "float" && value != null && !(value is bool) && IsNumber(value)) value = Convert.ToDouble(value);
                if (kind != null && !KindOk(kind, value))
                    throw new ProtocolException("bad_field", message.Type + ": field '" + field.Key + "' must be " + KindNames[kind]);
                header[field.Key] = value;
            }
            foreach (var field in spec.Required)
                if (!header.ContainsKey(field.Key))
                    throw new ProtocolException("missing_field", message.Type + ": missing field '" + field.Key + "'");
            if (message.Bulk.Count != spec.Bulk)
                throw new ProtocolException("bad_frames", message.Type + ": expected " + spec.Bulk + " bulk frame(s), got " + message.Bulk.Count);
            var frames = new List<byte[]> { MsgpackWriter.Pack(header) };
            frames.AddRange(message.Bulk);
            return frames;
        }

        /// <summary>Parse and validate one message; throws ProtocolException and nothing else.
        /// With sender ("client" or "server"), a type only the other side sends is refused.</summary>
        public static Message Decode(IList<byte[]> frames, int maxBulkBytes = Schema.DefaultMaxBulkBytes, string sender = null)
        {
            if (frames == null || frames.Count == 0)
                throw new ProtocolException("malformed", "empty message: no header frame");
            byte[] head = frames[0];
            if (head.Length > Schema.MaxHeaderBytes)
                throw new ProtocolException("too_large", "header frame is " + head.Length + " bytes; the limit is " + Schema.MaxHeaderBytes);
            for (int i = 1; i < frames.Count; i++)
                if (frames[i].Length > maxBulkBytes)
                    throw new ProtocolException("too_large", "bulk frame " + i + " is " + frames[i].Length + " bytes; the limit is " + maxBulkBytes);
            var header = Unpack(head);
            object seqValue;
            long? seq = header.TryGetValue("seq", out seqValue) && IsUint(seqValue) ? (long?)Convert.ToInt64(seqValue) : null;
            object version = Field(header, "v", "uint", "", seq);
            if (!(version is long) || (long)version != Schema.Version)
                throw new ProtocolException("bad_version", "protocol version " + version + " is not supported; this peer speaks " + Schema.Version, seq);
            string typeName = (string)Field(header, "type", "str", "", seq);
            MessageType spec;
            if (!Schema.Types.TryGetValue(typeName, out spec))
                throw new ProtocolException("unknown_type", "unknown message type '" + typeName + "'", seq);
            if (sender != null && spec.Sender != sender)
                throw new ProtocolException("unexpected_type", "'" + typeName + "' is sent by " + spec.Sender + "s, not " + sender + "s", seq);
            object seqField = Field(header, "seq", "uint", "", seq);
            var message = new Message(typeName) { Seq = Convert.ToInt64(seqField), Version = Schema.Version };
            string prefix = typeName + ": ";
            foreach (var field in spec.Required) message.Fields[field.Key] = InRange(spec, field.Key, Field(header, field.Key, field.Value, prefix, seq), prefix, seq);
            foreach (var field in spec.Optional)
                if (header.ContainsKey(field.Key)) message.Fields[field.Key] = InRange(spec, field.Key, Field(header, field.Key, field.Value, prefix, seq), prefix, seq);
            // Keys the table does not know are ignored, so that a newer minor revision can add fields.
            for (int i = 1; i < frames.Count; i++) message.Bulk.Add(frames[i]);
            if (message.Bulk.Count != spec.Bulk)
                throw new ProtocolException("bad_frames", typeName + ": expected " + spec.Bulk + " bulk frame(s), got " + message.Bulk.Count, seq);
            if (spec.BulkKind == "s16le" && message.Bulk[0].Length % 2 != 0)
                throw new ProtocolException("bad_frames", typeName + ": PCM frame has " + message.Bulk[0].Length + " bytes, not a whole number of int16 samples", seq);
            if (typeName == "user_face" && message.Bulk[0].Length != 59 * 4)
                throw new ProtocolException("bad_frames", "user_face: bulk frame has " + message.Bulk[0].Length + " bytes; expected 236 (59 float32: 52 weights, 7 head pose)", seq);
            if (typeName == "frames")
            {
                long want = message.Long("count") * Schema.FrameWidth * 4;
                if (message.Bulk[0].Length != want)
                    throw new ProtocolException("bad_frames", "frames: bulk frame has " + message.Bulk[0].Length + " bytes; count " + message.Long("count") + " needs " + want, seq);
            }
            return message;
        }

        static Dictionary<string, object> Unpack(byte[] head)
        {
            object value;
            var reader = new MsgpackReader(head);
            try
            {
                value = reader.Read();
            }
            catch (MsgpackUtf8Exception)
            {
                throw new ProtocolException("bad_utf8", "header contains a string that is not valid UTF-8");
            }
            catch (MsgpackFormatException)
            {
                throw new ProtocolException("malformed", "header frame is not valid msgpack");
            }
            if (!reader.AtEnd)
                throw new ProtocolException("malformed", "header frame holds more than one msgpack value");
            var map = value as MsgpackMap;
            if (map == null) throw new ProtocolException("malformed", "header is " + Describe(value) + ", not a map");
            var header = new Dictionary<string, object>();
            foreach (var entry in map.Entries)
            {
                var key = entry.Key as string;
                if (key == null) throw new ProtocolException("malformed", "header map keys must be strings");
                header[key] = entry.Value;
            }
            return header;
        }

        static object Field(Dictionary<string, object> header, string name, string kind, string prefix, long? seq)
        {
            object value;
            if (!header.TryGetValue(name, out value))
                throw new ProtocolException("missing_field", prefix + "missing field '" + name + "'", seq);
            if (!KindOk(kind, value))
                throw new ProtocolException("bad_field", prefix + "field '" + name + "' must be " + KindNames[kind], seq);
            if (kind == "float") return Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (kind == "map") return ToStringMap((MsgpackMap)value);
            return value;
        }

        // SPEC 7, step 7: a value outside its range is bad_field before the bulk frames are counted.
        static object InRange(MessageType spec, string name, object value, string prefix, long? seq)
        {
            double[] range;
            if (!spec.Ranges.TryGetValue(name, out range)) return value;
            double v = Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (v < range[0] || v > range[1])
                throw new ProtocolException("bad_field", prefix + name + " " + FormatNumber(v) + " is outside "
                                                         + FormatNumber(range[0]) + ".." + FormatNumber(range[1]), seq);
            return value;
        }

        // As the Python reference writes numbers in sentences: whole numbers without a point, others
        // in the shortest form that reads back to the same double.
        static string FormatNumber(double v)
        {
            if (Math.Floor(v) == v && Math.Abs(v) < 1e15) return ((long)v).ToString(CultureInfo.InvariantCulture);
            return v.ToString("R", CultureInfo.InvariantCulture);
        }

        static Dictionary<string, object> ToStringMap(MsgpackMap map)
        {
            var result = new Dictionary<string, object>();
            foreach (var e in map.Entries) result[(string)e.Key] = e.Value;
            return result;
        }

        static bool IsNumber(object v) { return v is long || v is ulong || v is double || v is int || v is float; }

        static bool IsUint(object v)
        {
            if (v is ulong) return true;
            if (v is long) return (long)v >= 0;
            if (v is int) return (int)v >= 0;
            return false;
        }

        static bool KindOk(string kind, object v)
        {
            switch (kind)
            {
                case "str": return v is string;
                case "uint": return IsUint(v);
                case "int": return v is long || v is int;
                case "float":
                    if (!IsNumber(v)) return false;
                    double d = Convert.ToDouble(v, CultureInfo.InvariantCulture);
                    return !double.IsNaN(d) && !double.IsInfinity(d);
                case "bool": return v is bool;
                case "strs": return AllOf(v, x => x is string);
                case "uints": return AllOf(v, IsUint);
                case "map":
                    var map = v as MsgpackMap;
                    if (map == null) return false;
                    foreach (var e in map.Entries) if (!(e.Key is string)) return false;
                    return true;
                default: throw new ArgumentException("unknown field kind " + kind);
            }
        }

        static bool AllOf(object v, Func<object, bool> test)
        {
            var list = v as IList;
            if (list == null || v is byte[]) return false;
            foreach (var item in list) if (!test(item)) return false;
            return true;
        }

        static string Describe(object v)
        {
            if (v == null) return "nil";
            if (v is bool) return "a boolean";
            if (v is long || v is ulong) return "an integer";
            if (v is double) return "a float";
            if (v is string) return "a string";
            if (v is byte[]) return "binary data";
            if (v is List<object>) return "an array";
            return "an extension value";
        }
    }
}
