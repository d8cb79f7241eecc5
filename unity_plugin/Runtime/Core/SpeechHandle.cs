// One line of speech, from the moment Say returns until it has been heard to its end (or cut, or
// refused). A dialogue system keeps the handle to know which line finished; `Completion` is a Task,
// so `await avatar.Say("...").Completion` waits for the line (on Unity's main thread, as the
// handle is settled from the client's Update).
using System.Threading.Tasks;

namespace Avbridge.Core
{
    public enum SpeechState { Sent, Queued, Playing, Finished, Interrupted, Failed }

    public sealed class SpeechHandle
    {
        /// <summary>The utterance id, chosen by the client so that every event can be matched to
        /// this line before the server has answered.</summary>
        public readonly string Id;
        public readonly string Text;
        public SpeechState State { get; private set; }
        /// <summary>For Failed: the protocol error code and its sentence.</summary>
        public string ErrorCode { get; private set; }
        public string ErrorMessage { get; private set; }

        /// <summary>The seq of the `say` that carries it (its error reply names this).</summary>
        internal long Seq;

        readonly TaskCompletionSource<SpeechState> _done = new TaskCompletionSource<SpeechState>();

        public SpeechHandle(string id, string text)
        {
            Id = id;
            Text = text;
        }

        /// <summary>A line that could not be sent (no connection, a bad endpoint).</summary>
        public static SpeechHandle Refused(string id, string text, string code, string message)
        {
            var handle = new SpeechHandle(id, text);
            handle.Fail(code, message);
            return handle;
        }

        /// <summary>Completes with Finished, Interrupted or Failed.</summary>
        public Task<SpeechState> Completion { get { return _done.Task; } }

        public bool IsDone { get { return State == SpeechState.Finished || State == SpeechState.Interrupted || State == SpeechState.Failed; } }

        internal void Advance(SpeechState state)
        {
            if (IsDone || state <= State) return;
            State = state;
            if (IsDone) _done.TrySetResult(state);
        }

        internal void Fail(string code, string message)
        {
            if (IsDone) return;
            ErrorCode = code;
            ErrorMessage = message;
            State = SpeechState.Failed;
            _done.TrySetResult(SpeechState.Failed);
        }

        public override string ToString() { return Id + " (" + State + ")"; }
    }
}
