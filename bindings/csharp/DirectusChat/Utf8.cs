using System;
using System.Runtime.InteropServices;
using System.Text;

namespace DirectusChat
{
    /// <summary>
    /// UTF-8 in both directions without LPUTF8Str or Marshal.PtrToStringUTF8, so the
    /// wrapper runs on every Mono, Unity API profile and .NET runtime, with no unsafe code.
    /// </summary>
    internal static class Utf8
    {
        // Throws on lone surrogates instead of silently sending U+FFFD.
        private static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>
        /// A NUL-terminated copy of <paramref name="s"/>; null stays null (a NULL pointer
        /// for optional arguments). A string with a NUL inside would be cut short by C, so
        /// it is refused.
        /// </summary>
        internal static byte[] Encode(string s, string paramName)
        {
            if (s == null) return null;
            if (s.IndexOf('\0') >= 0) throw new ArgumentException("must not contain a NUL character", paramName);
            byte[] bytes;
            try
            {
                bytes = new byte[Strict.GetByteCount(s) + 1];
            }
            catch (EncoderFallbackException e)
            {
                throw new ArgumentException("is not valid UTF-16 (lone surrogate)", paramName, e);
            }
            Strict.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        /// <summary>Like <see cref="Encode"/> for a required argument.</summary>
        internal static byte[] Required(string s, string paramName)
        {
            if (s == null) throw new ArgumentNullException(paramName);
            return Encode(s, paramName);
        }

        /// <summary>Decodes a NUL-terminated UTF-8 string; NULL gives null.</summary>
        internal static string Decode(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int len = Length(p);
            if (len == 0) return string.Empty;
            byte[] bytes = new byte[len];
            Marshal.Copy(p, bytes, 0, len);
            return Encoding.UTF8.GetString(bytes);
        }

        // strlen without unsafe code or libc: byte by byte up to an 8-byte boundary, then
        // a word at a time (an aligned word never crosses into the next page, so this never
        // reads memory the string's page does not hold).
        private static int Length(IntPtr p)
        {
            const ulong Ones = 0x0101010101010101UL, Highs = 0x8080808080808080UL;
            int n = 0;
            while ((p.ToInt64() + n) % 8 != 0)
            {
                if (Marshal.ReadByte(p, n) == 0) return n;
                n++;
            }
            while (true)
            {
                ulong v = (ulong)Marshal.ReadInt64(p, n);
                if (((v - Ones) & ~v & Highs) != 0) break; // some byte of v is zero
                n += 8;
            }
            while (Marshal.ReadByte(p, n) != 0) n++;
            return n;
        }

        /// <summary>Decodes the first <paramref name="len"/> bytes of a buffer.</summary>
        internal static string Decode(byte[] buf, int len)
        {
            return Encoding.UTF8.GetString(buf, 0, len);
        }
    }
}
