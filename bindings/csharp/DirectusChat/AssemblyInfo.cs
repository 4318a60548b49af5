using System.Runtime.CompilerServices;

// The test program reads ClientHandle.Released to check the finalizer path.
[assembly: InternalsVisibleTo("DirectusChatTests")]
