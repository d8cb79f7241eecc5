using System;

namespace Avbridge.Core.Protocol
{
    /// <summary>A message that cannot be accepted. Code is one of SPEC.md section 7's codes and
    /// Message the sentence a person reads; both match the Python reference exactly.</summary>
    public sealed class ProtocolException : Exception
    {
        public readonly string Code;
        public readonly long? Seq;

        public ProtocolException(string code, string message, long? seq = null) : base(message)
        {
            Code = code;
            Seq = seq;
        }

        public override string ToString() { return Code + ": " + Message; }
    }
}
