using System;
using System.IO;

namespace Avbridge.Tests
{
    /// <summary>Finds the repository's protocol/ folder: from AVBRIDGE_REPO when set, else by
    /// walking up from the test assembly (works in the repository and in a Unity project that
    /// references the package by local path).</summary>
    public static class TestPaths
    {
        public static string Repository()
        {
            string env = Environment.GetEnvironmentVariable("AVBRIDGE_REPO");
            if (!string.IsNullOrEmpty(env)) return env;
            string dir = AppDomain.CurrentDomain.BaseDirectory;
            while (dir != null)
            {
                if (File.Exists(Path.Combine(dir, "protocol", "SPEC.md"))) return dir;
                dir = Path.GetDirectoryName(dir);
            }
            throw new InvalidOperationException("cannot find the avbridge repository; set AVBRIDGE_REPO");
        }

        public static string Vectors(string name)
        {
            return Path.Combine(Repository(), "protocol", "vectors", name);
        }
    }
}
