// A small JSON reader for loading protocol/vectors in tests: objects become
// Dictionary<string, object>, arrays List<object>, integers long, other numbers double. Hand-written
// because Unity's JsonUtility cannot read untyped JSON and the test assembly takes no dependencies.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Avbridge.Tests
{
    public static class MiniJson
    {
        public static object Parse(string text)
        {
            int pos = 0;
            object value = ParseValue(text, ref pos);
            SkipSpace(text, ref pos);
            if (pos != text.Length) throw new FormatException("trailing characters at " + pos);
            return value;
        }

        static object ParseValue(string s, ref int pos)
        {
            SkipSpace(s, ref pos);
            char c = s[pos];
            if (c == '{')
            {
                var obj = new Dictionary<string, object>();
                pos++;
                SkipSpace(s, ref pos);
                if (s[pos] == '}') { pos++; return obj; }
                while (true)
                {
                    SkipSpace(s, ref pos);
                    string key = ParseString(s, ref pos);
                    SkipSpace(s, ref pos);
                    Expect(s, ref pos, ':');
                    obj[key] = ParseValue(s, ref pos);
                    SkipSpace(s, ref pos);
                    if (s[pos] == ',') { pos++; continue; }
                    Expect(s, ref pos, '}');
                    return obj;
                }
            }
            if (c == '[')
            {
                var list = new List<object>();
                pos++;
                SkipSpace(s, ref pos);
                if (s[pos] == ']') { pos++; return list; }
                while (true)
                {
                    list.Add(ParseValue(s, ref pos));
                    SkipSpace(s, ref pos);
                    if (s[pos] == ',') { pos++; continue; }
                    Expect(s, ref pos, ']');
                    return list;
                }
            }
            if (c == '"') return ParseString(s, ref pos);
            if (s.Substring(pos).StartsWith("true")) { pos += 4; return true; }
            if (s.Substring(pos).StartsWith("false")) { pos += 5; return false; }
            if (s.Substring(pos).StartsWith("null")) { pos += 4; return null; }
            int start = pos;
            while (pos < s.Length && "+-0123456789.eE".IndexOf(s[pos]) >= 0) pos++;
            string number = s.Substring(start, pos - start);
            if (number.IndexOfAny(new[] { '.', 'e', 'E' }) < 0) return long.Parse(number, CultureInfo.InvariantCulture);
            return double.Parse(number, CultureInfo.InvariantCulture);
        }

        static string ParseString(string s, ref int pos)
        {
            Expect(s, ref pos, '"');
            var sb = new StringBuilder();
            while (s[pos] != '"')
            {
                char c = s[pos++];
                if (c != '\\') { sb.Append(c); continue; }
                char e = s[pos++];
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'u': sb.Append((char)Convert.ToInt32(s.Substring(pos, 4), 16)); pos += 4; break;
                    default: sb.Append(e); break;
                }
            }
            pos++;
            return sb.ToString();
        }

        static void SkipSpace(string s, ref int pos)
        {
            while (pos < s.Length && char.IsWhiteSpace(s[pos])) pos++;
        }

        static void Expect(string s, ref int pos, char c)
        {
            if (s[pos] != c) throw new FormatException("expected '" + c + "' at " + pos);
            pos++;
        }
    }
}
