# Shared helpers for the tools/ scripts. Source it; do not run it.

# The Debian packages the build needs (headers and code generators).
CASSETTO_BUILD_PACKAGES=(
  pkg-config libnghttp2-dev libssl-dev libsqlite3-dev libprotobuf-c-dev protobuf-c-compiler
  protobuf-compiler libprotobuf-dev libprotoc-dev zlib1g-dev libcairo2-dev fonts-dejavu-core
  libcurl4-openssl-dev
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# ensure_debian_packages PKG...: installs the ones that are missing (apt-get, quietly).
ensure_debian_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# ensure_venv DIR PIP-ARGS...: a Python virtual environment with those packages.
# Reinstalls only when the requested list changes.
ensure_venv() {
  local dir="$1"; shift
  local want="$*"
  if [ ! -x "$dir/bin/python" ]; then
    log "creating Python venv $dir"
    python3 -m venv "$dir"
  fi
  if [ "$(cat "$dir/.cassetto-requirements" 2>/dev/null)" != "$want" ]; then
    log "installing Python packages into $dir: $want"
    "$dir/bin/pip" install -q --disable-pip-version-check "$@"
    echo "$want" > "$dir/.cassetto-requirements"
  fi
}
