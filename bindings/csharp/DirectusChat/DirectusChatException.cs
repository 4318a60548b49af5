using System;

namespace DirectusChat
{
    /// <summary>
    /// A library call failed: <see cref="Status"/> says how, <see cref="Code"/> carries the
    /// Directus error code (AUTH_FAILED, FORBIDDEN, TOKEN_EXPIRED, ...) or, for failures
    /// that are not the server's, the status name (TIMEOUT, CONNECTION, ...).
    /// The message never holds a password or token.
    /// </summary>
    public class DirectusChatException : Exception
    {
        /// <summary>The status the library returned.</summary>
        public Status Status { get; private set; }

        /// <summary>The Directus error code, or the status name without prefix.</summary>
        public string Code { get; private set; }

        /// <summary>Makes an exception from its parts.</summary>
        public DirectusChatException(Status status, string code, string message) : base(message)
        {
            Status = status;
            Code = code;
        }

        /// <summary>
        /// The exception for <paramref name="status"/>, with the code and message the
        /// library kept for this thread. Call it right after the failed call, on its thread.
        /// </summary>
        internal static DirectusChatException FromLastError(Status status, string what)
        {
            string code = Read(NativeMethods.dchat_last_error_code);
            string message = Read(NativeMethods.dchat_last_error_message);
            if (string.IsNullOrEmpty(code)) code = status.ToString();
            return new DirectusChatException(status, code, string.IsNullOrEmpty(message) ? what + ": " + code : what + ": " + message);
        }

        internal delegate Status LastErrorReader(byte[] buf, UIntPtr len, out UIntPtr outLen);

        private static string Read(LastErrorReader reader)
        {
            byte[] buf = new byte[512];
            for (int attempt = 0; attempt < 3; attempt++)
            {
                UIntPtr n;
                Status st = reader(buf, (UIntPtr)buf.Length, out n);
                if (st == Status.Ok) return Utf8.Decode(buf, (int)n.ToUInt64());
                if (st != Status.BufferTooSmall) return null;
                buf = new byte[(int)n.ToUInt64()];
            }
            return null;
        }

        /// <summary>Throws for any status but <see cref="DirectusChat.Status.Ok"/>.</summary>
        internal static void Check(Status status, string what)
        {
            if (status != Status.Ok) throw FromLastError(status, what);
        }
    }
}
