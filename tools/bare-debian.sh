#!/usr/bin/env bash
# Owns checking the front door on a bare machine by hand (too long for CI): a fresh Debian 12
# (debootstrap --variant=minbase) with only this machine's Node.js and npm copied in, a fresh
# clone of this checkout's HEAD, then `npm ci && npm test` (or any other command) as root inside
# it, so test-prerequisites.sh installs every system package there. Needs root, debootstrap and
# the Debian mirror; takes about 4 minutes plus the command. The chroot stays for inspection.
#
#   sudo tools/bare-debian.sh /var/tmp/bare                 # npm ci && npm test
#   sudo tools/bare-debian.sh /var/tmp/bare 'npm ci && npm run demo -- --no-tour'
set -euo pipefail

dir=${1:?usage: tools/bare-debian.sh <empty dir> [command]}
command=${2:-npm ci && npm test}
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$dir/root

[[ $(id -u) -eq 0 ]] || { echo "run as root (debootstrap, chroot, mount)" >&2; exit 1; }
[[ ! -e $root ]] || { echo "$root exists; give an empty dir" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "apt-get install -y debootstrap" >&2; exit 1; }

debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$dir/debootstrap.log"

# Node.js and npm as this machine has them, with its npm config and CA bundle (a registry behind
# a TLS-inspecting proxy needs them); no other program of this machine.
node=$(command -v node)
npm_root=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
cp "$node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/etc"
cp -a "$npm_root" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The CA bundle npm is told to use (global npmrc cafile, NODE_EXTRA_CA_CERTS), as host-ca.crt.
global_npmrc=$(dirname "$node")/../etc/npmrc
ca=${NODE_EXTRA_CA_CERTS:-$(sed -n 's/^cafile *= *//p' "$global_npmrc" 2>/dev/null | tr -d '"' | head -1)}
extra_ca=()
if [[ -n $ca && -f $ca ]]; then
  mkdir -p "$root/etc/ssl/certs"
  cp "$ca" "$root/etc/ssl/certs/host-ca.crt"
  extra_ca=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca.crt)
  [[ -f $global_npmrc ]] && sed 's#^cafile *=.*#cafile=/etc/ssl/certs/host-ca.crt#' "$global_npmrc" >"$root/usr/local/etc/npmrc"
fi

mkdir -p "$root/srv"
# Under /srv, not /root: as root the specs run servers as postgres, which /root (0700) keeps out.
git clone --quiet "$repo" "$root/srv/pgmux"

unshare --mount --propagation private bash -c '
  root=$1; shift
  # A mount point, as / is on a real machine: unshare --propagation inside (the quick start
  # spec) refuses a root that is not one.
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/dev/shm"
  mount -t tmpfs tmpfs "$root/tmp"
  exec chroot "$root" /usr/bin/env -i "$@"
' _ "$root" HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb \
  "${extra_ca[@]}" bash -c "cd /srv/pgmux && t0=\$(date +%s) && ($command); rc=\$?; echo \"[bare-debian] '$command': \$(( \$(date +%s) - t0 )) s, exit \$rc\"; exit \$rc"
