#!/usr/bin/env bash
# Installs directus-chat like a C library (what `cargo cinstall` would do, without
# building cargo-c):
#   PREFIX/lib/libdirectus_chat.so.X.Y.Z   the shared library, SONAME libdirectus_chat.so.<sover>
#   PREFIX/lib/libdirectus_chat.so.<sover>, libdirectus_chat.so   symlinks
#   PREFIX/lib/libdirectus_chat.a          the static library
#   PREFIX/include/directus_chat.h, directus_chat.hpp   the C header and the C++ wrapper
#   PREFIX/lib/pkgconfig/directus_chat.pc  for `pkg-config --cflags --libs [--static] directus_chat`
#   PREFIX/lib/cmake/directus_chat/        for `find_package(directus_chat)`
# <sover> is the major version, or `0.minor` before 1.0 (as cargo-c does): a 0.x minor
# release may change the ABI.
#
#   scripts/install.sh [--prefix DIR] [--libdir DIR] [--includedir DIR] [--profile release|dev]
#   DESTDIR=/staging scripts/install.sh --prefix /usr    (packaging: files under DESTDIR)
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local libdir="" includedir="" profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --libdir) libdir="$2"; shift 2 ;;
    --includedir) includedir="$2"; shift 2 ;;
    --profile) profile="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
libdir="${libdir:-$prefix/lib}"
includedir="${includedir:-$prefix/include}"
case "$libdir" in /*) ;; *) libdir="$prefix/$libdir" ;; esac
case "$includedir" in /*) ;; *) includedir="$prefix/$includedir" ;; esac
case "$profile" in release) outdir=release ;; dev|debug) profile=dev; outdir=debug ;; *) outdir="$profile" ;; esac
dest="${DESTDIR:-}"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
IFS=. read -r major minor patch <<<"$version"
if [ "$major" = 0 ]; then sover="0.$minor"; else sover="$major"; fi

target="${CARGO_TARGET_DIR:-target}/$outdir"
notes="$target/directus_chat.native-static-libs"
# The SONAME is set at link time; the native libraries the static library needs are
# asked from rustc. Always the same arguments, so a second run finds the build fresh.
echo "[install] cargo rustc --profile $profile --lib (SONAME libdirectus_chat.so.$sover)" >&2
build_log="$(mktemp)"
trap 'rm -f "$build_log"' EXIT
cargo rustc --profile "$profile" --lib -- -C "link-arg=-Wl,-soname,libdirectus_chat.so.$sover" --print native-static-libs >"$build_log" 2>&1 \
  || { cat "$build_log" >&2; exit 1; }
native="$(sed -n 's/^.*note: native-static-libs: //p' "$build_log" | tail -n 1)"
if [ -n "$native" ]; then printf '%s\n' "$native" >"$notes"
elif [ -f "$notes" ]; then native="$(cat "$notes")"
else echo "[install] rustc did not report the native libraries and none are cached; delete $target and run again" >&2; exit 1
fi
readelf -d "$target/libdirectus_chat.so" | grep -q "SONAME.*libdirectus_chat.so.$sover" \
  || { echo "[install] $target/libdirectus_chat.so lacks the SONAME libdirectus_chat.so.$sover" >&2; exit 1; }

rel() { python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$1" "$2"; }
cmakedir="$libdir/cmake/directus_chat"
install -d "$dest$libdir/pkgconfig" "$dest$includedir" "$dest$cmakedir"
install -m 0755 "$target/libdirectus_chat.so" "$dest$libdir/libdirectus_chat.so.$version"
ln -sfn "libdirectus_chat.so.$version" "$dest$libdir/libdirectus_chat.so.$sover"
ln -sfn "libdirectus_chat.so.$sover" "$dest$libdir/libdirectus_chat.so"
install -m 0644 "$target/libdirectus_chat.a" "$dest$libdir/libdirectus_chat.a"
install -m 0644 include/directus_chat.h include/directus_chat.hpp "$dest$includedir/"

# In the .pc file, paths under the prefix are written relative to it, so that
# `pkg-config --define-prefix` can serve a moved tree.
under_prefix() { case "$1" in "$prefix"/*) printf '${prefix}/%s' "${1#"$prefix"/}" ;; *) printf '%s' "$1" ;; esac; }
fill() { # template output: replaces every @NAME@ the templates use
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$(under_prefix "$libdir")|g" -e "s|@INCLUDEDIR@|$(under_prefix "$includedir")|g" \
      -e "s|@VERSION@|$version|g" -e "s|@VERSION_MAJOR@|$major|g" -e "s|@VERSION_MINOR@|$minor|g" \
      -e "s|@SOVERSION@|$sover|g" -e "s|@SOVERSION_FULL@|$version|g" \
      -e "s|@NATIVE_STATIC_LIBS@|$native|g" -e "s|@CMAKE_NATIVE_STATIC_LIBS@|${native// /;}|g" \
      -e "s|@PREFIX_FROM_CMAKEDIR@|$(rel "$prefix" "$cmakedir")|g" \
      -e "s|@LIBDIR_REL@|$(rel "$libdir" "$prefix")|g" -e "s|@INCLUDEDIR_REL@|$(rel "$includedir" "$prefix")|g" \
      -e "s|@SIZEOF_VOID_P@|$(getconf LONG_BIT | awk '{print $1/8}')|g" "$1" >"$2"
  if grep -q '@[A-Z_]*@' "$2"; then echo "[install] unfilled placeholder in $2" >&2; exit 1; fi
}
fill cmake/directus_chat.pc.in "$dest$libdir/pkgconfig/directus_chat.pc"
fill cmake/directus_chatConfig.cmake.in "$dest$cmakedir/directus_chatConfig.cmake"
fill cmake/directus_chatConfigVersion.cmake.in "$dest$cmakedir/directus_chatConfigVersion.cmake"
echo "[install] directus-chat $version installed under $dest$prefix" >&2
