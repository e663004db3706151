#!/usr/bin/env bash
# Install the Debian packages that RPA Suite and its test suites need.
#
# Usage: installer/system-deps.sh [--check]
#
#   (no option)  install the missing packages (as root), or, when not root, print the exact
#                `sudo apt-get install ...` command and exit 1.
#   --check      only report; exit 1 if anything is missing, 0 otherwise. Installs nothing.
#
# Environment:
#   RPA_SKIP_SYSDEPS=1     when packages are missing and cannot be installed (not root, or no
#                          apt), warn and exit 0 instead of failing.
#   RPA_SYSDEPS_EXTRA      extra package names (space-separated) to require as well.
#   PYTHON                 the interpreter the venv is made with (default python3); if it cannot
#                          import ensurepip, python3-venv is required too.
#
# Idempotent: when nothing is missing it prints one line and exits 0 without touching apt.
set -euo pipefail

PACKAGES=(
  # Qt (PySide6) on xcb and offscreen
  libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 libx11-xcb1
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxcb-sync1 libxcb-shm0 fonts-dejavu-core
  # virtual display, desktop automation, tray host
  xvfb xauth xdotool x11-utils scrot trayer xclip xdg-utils file
  # browser automation (Playwright drives Debian's Chromium)
  chromium
  # OCR
  tesseract-ocr tesseract-ocr-eng
  # credentials (Secret Service)
  gnome-keyring libsecret-tools dbus
  # IMAP server of the e-mail tests (run from a private config; the system service never starts)
  dovecot-imapd
  # orchestrator database tests
  postgresql
  # word.to_pdf (LibreOffice without its GUI)
  libreoffice-writer-nogui
)

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

check_only=0
case "${1:-}" in
  "") ;;
  --check) check_only=1 ;;
  -h|--help) usage; exit 0 ;;
  *) echo "system-deps: unknown option: $1" >&2; usage >&2; exit 2 ;;
esac

# python3 -m venv needs ensurepip, which Debian's own python3 ships in python3-venv.
if ! "${PYTHON:-python3}" -c 'import ensurepip' >/dev/null 2>&1; then
  PACKAGES+=(python3-venv)
fi
if [[ -n "${RPA_SYSDEPS_EXTRA:-}" ]]; then
  read -r -a extra <<<"$RPA_SYSDEPS_EXTRA"
  PACKAGES+=("${extra[@]}")
fi

# Packages whose status is "<want> ok installed". One dpkg-query call for all of them;
# it complains on stderr about the unknown ones, which simply count as missing.
missing_packages() {
  local -A ok=()
  local name status
  if command -v dpkg-query >/dev/null 2>&1; then
    while IFS=$'\t' read -r name status; do
      [[ "$status" == *" ok installed" ]] && ok["$name"]=1
    done < <(dpkg-query -W -f='${Package}\t${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
  fi
  local p
  for p in "${PACKAGES[@]}"; do
    [[ -n "${ok[$p]:-}" ]] || printf '%s\n' "$p"
  done
}

mapfile -t missing < <(missing_packages)

if ((${#missing[@]} == 0)); then
  echo "system-deps: all ${#PACKAGES[@]} Debian packages are installed."
  exit 0
fi

echo "system-deps: missing Debian packages: ${missing[*]}" >&2

give_up() {  # $1 = reason
  if [[ "${RPA_SKIP_SYSDEPS:-}" == 1 ]]; then
    echo "system-deps: WARNING: $1; RPA_SKIP_SYSDEPS=1, continuing without them" \
         "(tests needing them will fail or be skipped)." >&2
    exit 0
  fi
  exit 1
}

if ((check_only)); then
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "system-deps: this is not a Debian/Ubuntu system (no apt-get/dpkg-query);" \
       "install the equivalents of the packages above by hand." >&2
  give_up "cannot install them here"
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "system-deps: not root; install them with:" >&2
  echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
  give_up "not root"
fi

export DEBIAN_FRONTEND=noninteractive
echo "system-deps: installing ${#missing[@]} package(s) with apt-get ..."
apt-get -o DPkg::Lock::Timeout=300 update -q
# A policy-rc.d that exits 101 keeps services (dovecot, postgresql) from starting at install:
# the tests run their own instances from private configs.
policy_added=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_added=1
fi
apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" </dev/null
if ((policy_added)); then rm -f /usr/sbin/policy-rc.d; fi

mapfile -t still < <(missing_packages)
if ((${#still[@]} > 0)); then
  echo "system-deps: still missing after apt-get install: ${still[*]}" >&2
  exit 1
fi
echo "system-deps: installed ${missing[*]}."
