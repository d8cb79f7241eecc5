// Every case in protocol/vectors decodes (valid) or fails with the exact code and sentence
// (invalid), as in the Python reference; valid cases also encode back to the same bytes.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Avbridge.Core.Protocol;
using NUnit.Framework;

namespace Avbridge.Tests
{
    [TestFixture]
    public class ProtocolVectorTests
    {
        static List<object> Cases(string file)
        {
            var root = (Dictionary<string, object>)MiniJson.Parse(File.ReadAllText(TestPaths.Vectors(file)));
            return (List<object>)root["cases"];
        }

        public static IEnumerable<string> ValidNames() { return Cases("valid.json").Select(c => (string)((Dictionary<string, object>)c)["name"]); }

        public static IEnumerable<string> InvalidNames() { return Cases("invalid.json").Select(c => (string)((Dictionary<string, object>)c)["name"]); }

        static Dictionary<string, object> Case(string file, string name)
        {
            return Cases(file).Cast<Dictionary<string, object>>().First(c => (string)c["name"] == name);
        }

        static List<byte[]> Frames(Dictionary<string, object> c)
        {
            return ((List<object>)c["frames"]).Select(h => Hex((string)h)).ToList();
        }

        static byte[] Hex(string hex)
        {
            var bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
            return bytes;
        }

        [Test, TestCaseSource("ValidNames")]
        public void ValidVectorDecodesAndEncodesExactly(string name)
        {
            var c = Case("valid.json", name);
            var frames = Frames(c);
            var message = Codec.Decode(frames);
            Assert.AreEqual((string)c["type"], message.Type);
            Assert.AreEqual((long)c["seq"], message.Seq);
            var expected = (Dictionary<string, object>)c["fields"];
            CollectionAssert.AreEquivalent(expected.Keys, message.Fields.Keys);
            foreach (var field in expected) AssertSameValue(field.Value, message.Fields[field.Key], field.Key);
            if (c.ContainsKey("decode_only")) return;
            var rebuilt = new Message((string)c["type"]) { Seq = (long)c["seq"] };
            foreach (var field in expected) rebuilt.Fields[field.Key] = field.Value;
            rebuilt.Bulk.AddRange(frames.Skip(1));
            var encoded = Codec.Encode(rebuilt);
            Assert.AreEqual(frames.Count, encoded.Count);
            for (int i = 0; i < frames.Count; i++) CollectionAssert.AreEqual(frames[i], encoded[i], "frame " + i);
        }

        [Test, TestCaseSource("InvalidNames")]
        public void InvalidVectorFailsWithTheExactError(string name)
        {
            var c = Case("invalid.json", name);
            var error = (Dictionary<string, object>)c["error"];
            var caught = Assert.Throws<ProtocolException>(() => Codec.Decode(Frames(c)));
            Assert.AreEqual((string)error["code"], caught.Code);
            Assert.AreEqual((string)error["message"], caught.Message);
        }

        [Test]
        public void EveryMessageTypeHasAVector()
        {
            var types = new HashSet<string>(Cases("valid.json").Select(c => (string)((Dictionary<string, object>)c)["type"]));
            CollectionAssert.AreEquivalent(Schema.Types.Keys, types);
        }

        [Test]
        public void BulkFrameOverTheLimit()
        {
            var header = Codec.Encode(new Message("ping").With("client_time", 1.0))[0];
            var caught = Assert.Throws<ProtocolException>(() => Codec.Decode(new List<byte[]> { header, new byte[1001] }, 1000));
            Assert.AreEqual("too_large", caught.Code);
            Assert.AreEqual("bulk frame 1 is 1001 bytes; the limit is 1000", caught.Message);
        }

        [Test]
        public void RandomBytesOnlyEverRaiseProtocolException()
        {
            var random = new Random(11);
            for (int i = 0; i < 20000; i++)
            {
                var frame = new byte[random.Next(0, 48)];
                random.NextBytes(frame);
                if (frame.Length > 0 && i % 2 == 0) frame[0] = (byte)(0x80 | random.Next(0, 16));   // often a map
                try { Codec.Decode(new List<byte[]> { frame }); }
                catch (ProtocolException) { }
            }
        }

        static void AssertSameValue(object expected, object actual, string field)
        {
            var list = expected as IList;
            if (list != null)
            {
                var actualList = (IList)actual;
                Assert.AreEqual(list.Count, actualList.Count, field);
                for (int i = 0; i < list.Count; i++) AssertSameValue(list[i], actualList[i], field);
                return;
            }
            if (expected is long || expected is double)
            {
                Assert.AreEqual(Convert.ToDouble(expected), Convert.ToDouble(actual), 0.0, field);
                return;
            }
            Assert.AreEqual(expected, actual, field);
        }
    }
}
