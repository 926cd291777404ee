#!/usr/bin/env bash
# Install the Debian/Ubuntu packages onestop needs, when missing and when we may (root or password-less
# sudo). Otherwise say exactly what to install. Usage: scripts/system-deps.sh run|test
set -euo pipefail

# Pango renders certificates (WeasyPrint); HarfBuzz subsetting makes a Chinese PDF take 0.1 s, not 10 s;
# Noto CJK is the Chinese font; python3-venv creates .venv on Ubuntu.
RUN_PKGS=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk python3-venv)
# Tests also drive Debian's Chromium (Playwright), check PDFs with poppler-utils (pdfsig, pdftotext) and
# install axe-core for the accessibility checks with npm; libnss3-tools (certutil) lets pdfsig trust the
# development root CA.
TEST_PKGS=(chromium poppler-utils libnss3-tools npm)

pkgs=("${RUN_PKGS[@]}")
[ "${1:-run}" = "test" ] && pkgs+=("${TEST_PKGS[@]}")

missing=()
for p in "${pkgs[@]}"; do
  # npm installed some other way (e.g. with Node.js from nodejs.org) serves as well as Debian's.
  [ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "onestop needs these system packages (Debian/Ubuntu names): ${missing[*]}" >&2
  echo "This is not a Debian/Ubuntu machine: install their equivalents, then run make again." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "onestop needs these system packages: ${missing[*]}" >&2
    echo "Install them with:  sudo apt-get install -y ${missing[*]}   then run make again." >&2
    exit 1
  fi
fi
echo "Installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
# Older releases lack libharfbuzz-subset0 (it is inside libharfbuzz0b there): install what exists.
installable=()
for p in "${missing[@]}"; do
  if apt-cache show "$p" >/dev/null 2>&1; then installable+=("$p"); else
    echo "warning: package $p is not available on this release; continuing without it" >&2
  fi
done
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${installable[@]}" >/dev/null
command -v fc-cache >/dev/null 2>&1 && fc-cache -f >/dev/null 2>&1 || true
