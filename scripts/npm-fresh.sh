# Sourced by scripts/directus-install.sh and scripts/bench.sh.
# npm_fresh DIR NAME PACKAGE...: empties DIR and installs PACKAGE... there as a private
# npm project NAME. Callers mark a finished install with DIR/.done themselves, after any
# step of their own, so an interrupted install is redone rather than trusted.
npm_fresh() {
  local dir="$1" name="$2"
  shift 2
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && printf '{"name":"%s","private":true}\n' "$name" > package.json \
    && npm install --no-audit --no-fund --loglevel=error "$@" >&2)
}
