#!/usr/bin/env python3
"""Checks the C# P/Invoke declarations against the C header:
    check-csharp-bindings.py HEADER.cdef NativeMethods.cs

HEADER.cdef is include/directus_chat.h preprocessed (scripts/lua-cdef.sh), so comments
and macros are gone. Every header function must be declared in C# with the same name,
the same number of arguments and types that marshal to the same C types (or be listed in
NOT_BOUND with a reason), every C# declaration must exist in the header, and the C#
version constants must equal the header's DCHAT_VERSION_* values.
Prints one line per problem; exit status 0 when there is none.
"""

import re
import sys

# Header functions the C# wrapper leaves out on purpose.
NOT_BOUND = {
    "dchat_options_set_callback": "callbacks on library threads; poll mode only",
    "dchat_options_set_poll": "its wake hook runs on a library thread; poll mode is the default",
    "dchat_set_log_callback": "runs on the log thread; Mono 6.8 then waits for it at exit",
    "dchat_event_clone": "Poll copies every event into managed objects before freeing it",
}

# C type (normalised) -> C# types that marshal to it.
PARAM_TYPES = {
    "const char*": {"byte[]"},
    "char*": {"byte[]", "IntPtr"},  # a buffer to fill, or a string to free
    "char**": {"out IntPtr"},
    "const struct dchat_client*": {"ClientHandle"},
    "struct dchat_client*": {"ClientHandle", "IntPtr"},
    "struct dchat_client**": {"out ClientHandle"},
    "const struct dchat_event*": {"IntPtr"},
    "struct dchat_event*": {"IntPtr"},
    "struct dchat_event**": {"out IntPtr", "[Out] IntPtr[]"},  # one event, or an array to fill
    "const struct dchat_options*": {"IntPtr"},
    "struct dchat_options*": {"IntPtr"},
    "struct dchat_options**": {"out IntPtr"},
    "uint64_t": {"ulong"},
    "uint64_t*": {"out ulong"},
    "uint32_t": {"uint"},
    "int32_t": {"int"},
    "int*": {"out int"},
    "double": {"double"},
    "size_t": {"UIntPtr"},
    "size_t*": {"out UIntPtr"},
    "bool": {"[MarshalAs(UnmanagedType.I1)] bool"},
    "bool*": {"[MarshalAs(UnmanagedType.I1)] out bool"},
    "double*": {"out double"},
    "int64_t*": {"out long"},
    "enum dchat_status": {"Status"},
}
RETURN_TYPES = {
    "enum dchat_status": "Status",
    "enum dchat_kind": "EventKind",
    "enum dchat_state": "ConnectionState",
    "enum dchat_sub_event": "SubscriptionEvent",
    "enum dchat_outbox_state": "OutboxState",
    "bool": "bool",
    "enum dchat_close_cause": "CloseCause",
    "int64_t": "long",
    "const char*": "IntPtr",
    "uint32_t": "uint",
    "uint64_t": "ulong",
    "size_t": "UIntPtr",
    "bool": "bool",  # with [return: MarshalAs(UnmanagedType.I1)]: C's bool is one byte
}


def norm(c_type):
    c_type = re.sub(r"\s*\*\s*", "*", c_type.strip())
    return re.sub(r"\s+", " ", c_type)


def header_functions(text):
    funcs = {}
    for m in re.finditer(r"([A-Za-z_][\w\s\*]*?)\b(dchat_\w+)\s*\(([^()]*)\)\s*;", text):
        ret, name, params = m.group(1), m.group(2), m.group(3).strip()
        if ret.strip().startswith("typedef"):
            continue
        types = []
        if params and params != "void":
            for p in params.split(","):
                p = p.strip()
                # Drop the parameter name (the last identifier).
                types.append(norm(re.sub(r"\b\w+$", "", p)))
        funcs[name] = (norm(ret), types)
    return funcs


def csharp_functions(text):
    funcs = {}
    for m in re.finditer(r"static\s+extern\s+(\w+(?:\[\])?)\s+(dchat_\w+)\s*\(((?:[^()]|\([^()]*\))*)\)\s*;", text):
        ret, name, params = m.group(1), m.group(2), m.group(3).strip()
        types = []
        if params:
            for p in re.split(r",(?![^\[]*\])", params):
                p = p.strip()
                types.append(re.sub(r"\s+\w+$", "", p).strip())
        funcs[name] = (ret, types)
    return funcs


def main():
    cdef, cs = open(sys.argv[1]).read(), open(sys.argv[2]).read()
    header, bound = header_functions(cdef), csharp_functions(cs)
    problems = []
    if len(header) < 40:
        problems.append(f"only {len(header)} functions found in {sys.argv[1]}: the parser is broken")
    for name, (ret, params) in sorted(header.items()):
        if name in NOT_BOUND:
            if name in bound:
                problems.append(f"{name} is bound but listed as not bound")
            continue
        if name not in bound:
            problems.append(f"{name} is in the header but not in {sys.argv[2]}")
            continue
        cs_ret, cs_params = bound[name]
        if RETURN_TYPES.get(ret) != cs_ret:
            problems.append(f"{name}: returns {ret} in C, {cs_ret} in C#")
        if ret == "bool" and not re.search(r"\[return:\s*MarshalAs\(UnmanagedType\.I1\)\][^;]*\b" + name + r"\b", cs):
            problems.append(f"{name}: a C bool return needs [return: MarshalAs(UnmanagedType.I1)] (one byte)")
        if len(params) != len(cs_params):
            problems.append(f"{name}: {len(params)} arguments in C, {len(cs_params)} in C#")
            continue
        for i, (c_t, cs_t) in enumerate(zip(params, cs_params)):
            if cs_t not in PARAM_TYPES.get(c_t, set()):
                problems.append(f"{name}: argument {i + 1} is {c_t} in C, {cs_t} in C#")
    for name in sorted(set(bound) - set(header)):
        problems.append(f"{name} is declared in C# but not in the header")
    for part in ("MAJOR", "MINOR", "PATCH"):
        h = re.search(rf"\bDCHAT_VERSION_{part}\s*=\s*(\d+)", cdef)
        c = re.search(rf"HeaderVersion{part.capitalize()}\s*=\s*(\d+)", cs)
        if not h or not c or h.group(1) != c.group(1):
            problems.append(f"version {part}: header {h and h.group(1)}, C# {c and c.group(1)}")
    for p in problems:
        print("csharp bindings: " + p)
    print(f"csharp bindings: {len(bound)} functions checked against the header, {len(NOT_BOUND)} left out on purpose, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
