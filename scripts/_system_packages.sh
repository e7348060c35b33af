# The Debian/Ubuntu packages the window needs on a bare machine; sourced by scripts/run,
# scripts/screenshots and .ci/run. Measured with `ldd` on PySide6's xcb platform plugin
# (Qt/plugins/platforms/libqxcb.so and Qt/lib/libQt6XcbQpa.so.6) and docs in
# the platform notes: Qt itself (GL, EGL, fontconfig, glib, D-Bus - needed even
# offscreen), the xcb platform's libraries, and libpulse0 for the alarm tones (QtMultimedia).
WINDOW_PACKAGES=(
    libgl1 libegl1 libfontconfig1 libglib2.0-0 libdbus-1-3
    libxkbcommon0 libxkbcommon-x11-0 libx11-6 libx11-xcb1 libxcb1
    libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0
    libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0
    libxcb-xkb1
    libpulse0
)

# Print the packages of "$@" that are not installed (none when dpkg is not there: not Debian).
missing_packages() {
    command -v dpkg >/dev/null 2>&1 || return 0
    local package
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || echo "$package"
    done
}

# Install "$@" when missing: as root with apt-get; otherwise print the one command to run and
# return 1.
ensure_packages() {
    local missing
    mapfile -t missing < <(missing_packages "$@")
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
        return 0
    fi
    echo "KAT Monitor's window needs these system packages; install them with:" >&2
    echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    return 1
}
