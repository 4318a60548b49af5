using System;
using System.Runtime.InteropServices;

namespace DirectusChat
{
    /// <summary>The native library as a whole: its version and a load check.</summary>
    public static class Library
    {
        /// <summary>The library's version as text ("0.1.0").</summary>
        public static string Version
        {
            get { return Utf8.Decode(NativeMethods.dchat_version()); }
        }

        /// <summary>The library's version as major &lt;&lt; 16 | minor &lt;&lt; 8 | patch.</summary>
        public static uint VersionNumber
        {
            get { return NativeMethods.dchat_version_number(); }
        }

        /// <summary>The version of the C header these bindings were written against, in the same form.</summary>
        public static uint BindingsVersionNumber
        {
            get { return NativeMethods.HeaderVersionMajor << 16 | NativeMethods.HeaderVersionMinor << 8 | NativeMethods.HeaderVersionPatch; }
        }

        /// <summary>
        /// Loads the native library and resolves every function the bindings use, so a
        /// missing or outdated plugin fails here, at start-up, rather than at the first call
        /// that needs it; then checks that its major and minor version match the bindings.
        /// </summary>
        /// <exception cref="DllNotFoundException">the library was not found.</exception>
        /// <exception cref="EntryPointNotFoundException">the library lacks a function.</exception>
        /// <exception cref="InvalidOperationException">the library's version does not match.</exception>
        public static void Verify()
        {
            Marshal.PrelinkAll(typeof(NativeMethods));
            uint lib = VersionNumber, want = BindingsVersionNumber;
            if (lib >> 8 != want >> 8)
            {
                throw new InvalidOperationException(string.Format(
                    "directus_chat {0} does not match the C# bindings ({1}.{2}.{3})",
                    Version, want >> 16, (want >> 8) & 0xff, want & 0xff));
            }
        }
    }
}
