// The samples' keys, read through whichever input system the project has: the Input System
// package (ENABLE_INPUT_SYSTEM), the legacy Input Manager (ENABLE_LEGACY_INPUT_MANAGER), or both.
// Calling the legacy Input class in an Input-System-only project throws every frame.
#if ENABLE_INPUT_SYSTEM && AVBRIDGE_INPUT_SYSTEM
using UnityEngine.InputSystem;
#endif

namespace Avbridge.Samples
{
    public static class SampleInput
    {
        public static bool SpeakPressed() { return Pressed(Key.Space); }
        public static bool InterruptPressed() { return Pressed(Key.Escape); }
        public static bool MutePressed() { return Pressed(Key.M); }

        public enum Key { Space, Escape, M }

        static bool Pressed(Key key)
        {
#if ENABLE_INPUT_SYSTEM && AVBRIDGE_INPUT_SYSTEM
            var keyboard = Keyboard.current;
            if (keyboard == null) return false;
            switch (key)
            {
                case Key.Space: return keyboard.spaceKey.wasPressedThisFrame;
                case Key.Escape: return keyboard.escapeKey.wasPressedThisFrame;
                default: return keyboard.mKey.wasPressedThisFrame;
            }
#elif ENABLE_LEGACY_INPUT_MANAGER || !ENABLE_INPUT_SYSTEM
            switch (key)
            {
                case Key.Space: return UnityEngine.Input.GetKeyDown(UnityEngine.KeyCode.Space);
                case Key.Escape: return UnityEngine.Input.GetKeyDown(UnityEngine.KeyCode.Escape);
                default: return UnityEngine.Input.GetKeyDown(UnityEngine.KeyCode.M);
            }
#else
            return false;
#endif
        }
    }
}
