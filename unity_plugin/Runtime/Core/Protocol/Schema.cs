// The message table of protocol v1 (protocol/SPEC.md section 6), the same as the Python
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
        public const int Version = 1;
        public const int MaxHeaderBytes = 262144;
        public const int DefaultMaxBulkBytes = 4194304;
        public const string Client = "client";
        public const string Server = "server";
        public const int FrameWidth = 63;

        public static readonly Dictionary<string, MessageType> Types = new Dictionary<string, MessageType>();

        static void Add(MessageType t) { Types[t.Name] = t; }

        static Schema()
        {
            Add(new MessageType("hello", "client", 0, "",
                new string[] { "versions", "uints", "client", "str" },
                new string[] { "capabilities", "strs" }));
            Add(new MessageType("open", "client", 0, "",
                new string[] {  },
                new string[] { "fps", "float", "voice", "str", "motion", "str", "seed", "uint", "realtime", "bool", "idle", "bool", "emotion", "str", "intensity", "float", "expressiveness", "float", "live", "str", "barge_in", "str", "barge_in_ms", "uint", "transcripts", "bool", "persona", "str", "memory", "uint" })
                .Range("fps", 1, 240)
                .Range("intensity", 0, 1)
                .Range("expressiveness", 0, 2)
                .Range("barge_in_ms", 0, 10000)
                .Range("memory", 0, 50));
            Add(new MessageType("close", "client", 0, "",
                new string[] { "session", "str" },
                new string[] {  }));
            Add(new MessageType("say", "client", 0, "",
                new string[] { "session", "str", "text", "str" },
                new string[] { "utterance", "str", "emotion", "str", "intensity", "float" })
                .Range("intensity", 0, 1));
            Add(new MessageType("speak_audio", "client", 1, "s16le",
                new string[] { "session", "str", "utterance", "str", "sample_rate", "uint", "offset", "uint", "final", "bool" },
                new string[] { "text", "str" })
                .Range("sample_rate", 8000, 96000));
            Add(new MessageType("interrupt", "client", 0, "",
                new string[] { "session", "str" },
                new string[] { "utterance", "str" }));
            Add(new MessageType("set", "client", 0, "",
                new string[] { "session", "str" },
                new string[] { "emotion", "str", "intensity", "float", "expressiveness", "float", "articulation", "float", "blink_rate", "float", "gaze_yaw", "float", "gaze_pitch", "float", "thinking", "bool", "calibrate", "float", "livelink", "strs", "livelink_subject", "str", "vmc", "strs", "vmc_names", "str", "timecode", "str" })
                .Range("intensity", 0, 1)
                .Range("expressiveness", 0, 2)
                .Range("articulation", 0.2, 2)
                .Range("blink_rate", 0, 60)
                .Range("gaze_yaw", -0.6, 0.6)
                .Range("gaze_pitch", -0.6, 0.6)
                .Range("calibrate", 0.2, 10));
            Add(new MessageType("user_audio", "client", 1, "s16le",
                new string[] { "session", "str", "sample_rate", "uint", "offset", "uint" },
                new string[] {  })
                .Range("sample_rate", 8000, 96000));
            Add(new MessageType("user_text", "client", 0, "",
                new string[] { "session", "str", "text", "str" },
                new string[] {  }));
            Add(new MessageType("user_face", "client", 1, "f32le",
                new string[] { "session", "str", "time", "float" },
                new string[] { "tracked", "bool" }));
            Add(new MessageType("ping", "client", 0, "",
                new string[] { "client_time", "float" },
                new string[] { "session", "str" }));
            Add(new MessageType("portrait", "client", 1, "bytes",
                new string[] { "session", "str" },
                new string[] { "size", "uint", "fps", "float", "format", "str", "quality", "uint" })
                .Range("size", 64, 1024)
                .Range("fps", 1, 60)
                .Range("quality", 1, 100));
            Add(new MessageType("welcome", "server", 0, "",
                new string[] { "re", "uint", "version", "uint", "server", "str", "capabilities", "strs", "blendshapes", "strs", "fps", "float", "sample_rate", "uint", "audio_format", "str", "heartbeat_ms", "uint", "max_bulk_bytes", "uint", "max_text_chars", "uint", "voices", "strs", "motions", "strs" },
                new string[] { "max_sessions_per_client", "uint", "max_queued_lines", "uint", "max_backlog_bytes", "uint", "liveness_timeout_ms", "uint", "lead_ms", "uint", "sessions", "strs" }));
            Add(new MessageType("opened", "server", 0, "",
                new string[] { "re", "uint", "session", "str", "fps", "float", "sample_rate", "uint", "voice", "str", "motion", "str" },
                new string[] {  }));
            Add(new MessageType("closed", "server", 0, "",
                new string[] { "re", "uint", "session", "str" },
                new string[] {  }));
            Add(new MessageType("ok", "server", 0, "",
                new string[] { "re", "uint" },
                new string[] { "session", "str", "utterance", "str" }));
            Add(new MessageType("error", "server", 0, "",
                new string[] { "code", "str", "message", "str" },
                new string[] { "re", "uint", "session", "str" }));
            Add(new MessageType("pong", "server", 0, "",
                new string[] { "re", "uint", "client_time", "float", "server_time", "float" },
                new string[] { "session", "str", "session_time", "float" }));
            Add(new MessageType("stream", "server", 0, "",
                new string[] { "session", "str", "utterance", "str", "time", "float", "re", "uint", "fps", "float", "sample_rate", "uint", "audio_format", "str", "audio", "bool", "blendshapes", "strs", "frame_layout", "uints" },
                new string[] { "text", "str", "idle", "bool" }));
            Add(new MessageType("audio", "server", 1, "s16le",
                new string[] { "session", "str", "utterance", "str", "time", "float", "offset", "uint" },
                new string[] {  }));
            Add(new MessageType("frames", "server", 1, "f32le",
                new string[] { "session", "str", "utterance", "str", "time", "float", "first", "uint", "count", "uint" },
                new string[] {  }));
            Add(new MessageType("event", "server", 0, "",
                new string[] { "session", "str", "utterance", "str", "time", "float", "name", "str" },
                new string[] { "text", "str", "phoneme", "str", "viseme", "str", "end", "float", "final", "bool" }));
            Add(new MessageType("end", "server", 0, "",
                new string[] { "session", "str", "utterance", "str", "time", "float", "status", "str", "frames", "uint", "samples", "uint" },
                new string[] { "reason", "str", "re", "uint" }));
            Add(new MessageType("video", "server", 1, "bytes",
                new string[] { "session", "str", "utterance", "str", "time", "float", "index", "uint", "fps", "float", "format", "str", "width", "uint", "height", "uint" },
                new string[] {  }));
        }
    }
}
