#!/usr/bin/env bash
# Builds fjord's container image with buildah from the Containerfile at the repository root,
# with no base image: the root filesystem is assembled here from this machine's (Debian) files.
#
#   scripts/image.sh [--binary PATH] [--tag TAG] [--push REGISTRY] [--strip]
#                    [--storage-root DIR] [--rootfs-only DIR]
#
#   --binary PATH      the fjord binary to ship (default: target/release/fjord, built with
#                      `cargo build --release -p fjord` when missing)
#   --tag TAG          the local image name (default: fjord:<version of the binary>)
#   --push REGISTRY    then push it to REGISTRY/<TAG> (plain HTTP or an untrusted certificate
#                      allowed: --tls-verify=false), e.g. --push 127.0.0.1:5000
#   --strip            copy the binary without its debug sections (for debug builds: a debug
#                      fjord is ~450 MB, stripped ~100 MB)
#   --storage-root DIR buildah's image store under DIR (default: buildah's own, as root
#                      /var/lib/containers/storage); STORAGE_DRIVER picks the driver (default
#                      overlay, vfs when overlay cannot mount here)
#   --rootfs-only DIR  only write the root filesystem into DIR (empty or absent) and stop
#
# The root filesystem: /usr/local/bin/fjord; exactly the shared libraries `ldd` lists for it,
# with the loader, at the paths it lists (merged-/usr symlinks as on the host); Debian's CA
# bundle at /etc/ssl/certs/ca-certificates.crt (+ OpenSSL's /usr/lib/ssl links); /etc/passwd,
# /etc/group (root and `fjord` 65532), /etc/nsswitch.conf; /tmp (1777); /home/fjord and
# /var/cache/fjord owned by 65532; the Debian copyright files of the copied libraries.
# It becomes one tar layer with fixed owners, modes and mtimes (SOURCE_DATE_EPOCH, else the
# commit's time), so the same binary gives the same layer. Details: docs/container-image.md.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

die() { echo "image.sh: $*" >&2; exit 1; }

binary="" tag="" push="" strip=0 storage_root="" rootfs_only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) [ $# -ge 2 ] || die "--binary needs a PATH"; binary="$2"; shift 2 ;;
    --tag) [ $# -ge 2 ] || die "--tag needs a TAG"; tag="$2"; shift 2 ;;
    --push) [ $# -ge 2 ] || die "--push needs a REGISTRY (host:port)"; push="$2"; shift 2 ;;
    --strip) strip=1; shift ;;
    --storage-root) [ $# -ge 2 ] || die "--storage-root needs a DIR"; storage_root="$2"; shift 2 ;;
    --rootfs-only) [ $# -ge 2 ] || die "--rootfs-only needs a DIR"; rootfs_only="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

if [ -z "$binary" ]; then
  binary="$repo/target/release/fjord"
  if [ ! -x "$binary" ]; then
    echo "image.sh: building $binary" >&2
    (cd "$repo" && cargo build --release -p fjord)
  fi
fi
[ -x "$binary" ] || die "--binary $binary: not an executable file"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] || die "$ca_bundle missing (apt-get install ca-certificates)"

# Version, commit and build date as the binary itself reports them (`fjord 0.1.0 (commit
# 2f79123f2d30, built 2026-12-07)`), so the labels cannot disagree with the binary.
version_line="$("$binary" --version)" || die "--binary $binary: \`--version\` failed"
version="$(sed -n 's/^fjord \([^ ]*\).*/\1/p' <<<"$version_line")"
revision="$(sed -n 's/.*(commit \([^,]*\),.*/\1/p' <<<"$version_line")"
[ -n "$version" ] || die "--binary $binary: unexpected --version output: $version_line"
[ -n "$tag" ] || tag="fjord:$version"
source_url="$(sed -n 's/^repository *= *"\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)"
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)}"

# copy_path ROOT PATH: PATH (absolute) into ROOT, recreating every symlink met on the way (a
# merged-/usr /lib -> usr/lib, the loader's /lib64 link) and copying the final file.
copy_path() {
  local root="$1" path="$2" prefix="" part rest target
  rest="${path#/}"
  while [ -n "$rest" ]; do
    part="${rest%%/*}"
    if [ "$part" = "$rest" ]; then rest=""; else rest="${rest#*/}"; fi
    prefix="$prefix/$part"
    if [ -L "$prefix" ]; then
      target="$(readlink "$prefix")"
      if [ ! -L "$root$prefix" ]; then
        mkdir -p "$(dirname "$root$prefix")"
        ln -s "$target" "$root$prefix"
      fi
      case "$target" in
        /*) copy_path "$root" "$target${rest:+/$rest}" ;;
        *) copy_path "$root" "$(dirname "$prefix")/$target${rest:+/$rest}" ;;
      esac
      return
    fi
  done
  mkdir -p "$(dirname "$root$path")"
  [ -e "$root$path" ] || cp -p "$path" "$root$path"
}

# The shared libraries ldd resolves for the binary, and its loader; a library ldd cannot find
# stops the build.
libraries() {
  local out
  # A statically linked binary needs none (ldd then says so and exits non-zero).
  if out="$(ldd "$binary" 2>&1)"; then :; else
    if grep -q "not a dynamic executable\|statically linked" <<<"$out"; then return 0; fi
    die "ldd $binary failed: $out"
  fi
  if grep -q "not found" <<<"$out"; then die "ldd $binary: $(grep 'not found' <<<"$out")"; fi
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out" | sort -u
}

build_rootfs() {
  local root="$1" lib real pkg
  mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/usr/lib/ssl" "$root/tmp" \
    "$root/home/fjord" "$root/var/cache/fjord"
  if [ "$strip" = 1 ]; then
    command -v objcopy >/dev/null 2>&1 || die "--strip needs objcopy (apt-get install binutils)"
    objcopy --strip-debug "$binary" "$root/usr/local/bin/fjord"
  else
    cp "$binary" "$root/usr/local/bin/fjord"
  fi
  chmod 0755 "$root/usr/local/bin/fjord"
  for lib in $(libraries); do
    copy_path "$root" "$lib"
    # Each library's licence, from the Debian package that ships it.
    real="$(readlink -f "$lib")"
    pkg="$( (dpkg -S "$lib" || dpkg -S "$real") 2>/dev/null | head -1 | cut -d: -f1)" || true
    if [ -n "$pkg" ] && [ -f "/usr/share/doc/$pkg/copyright" ]; then
      mkdir -p "$root/usr/share/doc/$pkg"
      cp "/usr/share/doc/$pkg/copyright" "$root/usr/share/doc/$pkg/copyright"
    fi
  done
  cp "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
  if [ -f /usr/share/doc/ca-certificates/copyright ]; then
    mkdir -p "$root/usr/share/doc/ca-certificates"
    cp /usr/share/doc/ca-certificates/copyright "$root/usr/share/doc/ca-certificates/copyright"
  fi
  ln -sfn /etc/ssl/certs "$root/usr/lib/ssl/certs"
  ln -sfn /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
  printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
    'fjord:x:65532:65532:fjord:/home/fjord:/usr/sbin/nologin' > "$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'fjord:x:65532:' > "$root/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' > "$root/etc/nsswitch.conf"
  chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf" \
    "$root/etc/ssl/certs/ca-certificates.crt"
  chmod 1777 "$root/tmp"
  chmod 0755 "$root/home/fjord" "$root/var/cache/fjord"
}

if [ -n "$rootfs_only" ]; then
  if [ -d "$rootfs_only" ] && [ -n "$(ls -A "$rootfs_only")" ]; then
    die "--rootfs-only $rootfs_only: not empty"
  fi
  build_rootfs "$rootfs_only"
  if [ "$(id -u)" -eq 0 ]; then
    chown 65532:65532 "$rootfs_only/home/fjord" "$rootfs_only/var/cache/fjord"
  fi
  echo "$rootfs_only"
  exit 0
fi

command -v buildah >/dev/null 2>&1 || die "buildah not found (apt-get install buildah)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build_rootfs "$work/rootfs"
# One archive, root-owned except the fjord user's two folders; sorted, fixed mtimes.
tar_opts=(--sort=name --mtime="@$epoch" --numeric-owner --format=posix
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
tar -C "$work/rootfs" "${tar_opts[@]}" --owner=0 --group=0 \
  --exclude=./home/fjord --exclude=./var/cache/fjord -cf "$work/rootfs.tar" .
tar -C "$work/rootfs" "${tar_opts[@]}" --owner=65532 --group=65532 --no-recursion \
  -rf "$work/rootfs.tar" ./home/fjord ./var/cache/fjord
rm -rf "$work/rootfs"

buildah_args=()
if [ -n "$storage_root" ]; then
  buildah_args+=(--root "$storage_root/root" --runroot "$storage_root/run")
fi
# overlay needs a kernel and file system that allow it; vfs works everywhere (slower, larger).
if [ -z "${STORAGE_DRIVER:-}" ]; then
  if buildah "${buildah_args[@]}" --storage-driver overlay images >/dev/null 2>&1; then
    export STORAGE_DRIVER=overlay
  else
    export STORAGE_DRIVER=vfs
  fi
fi
buildah_args+=(--storage-driver "$STORAGE_DRIVER")
created="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
# No RUN step, so no runtime is involved; chroot isolation keeps buildah from needing one.
buildah "${buildah_args[@]}" build --isolation chroot --timestamp "$epoch" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$created" --build-arg "SOURCE=$source_url" \
  --format oci -f "$repo/Containerfile" -t "$tag" "$work" >&2
echo "image.sh: built $tag ($version_line, storage driver $STORAGE_DRIVER)" >&2

if [ -n "$push" ]; then
  buildah "${buildah_args[@]}" push --tls-verify=false "$tag" "docker://$push/${tag#*/}" >&2
  echo "image.sh: pushed $push/${tag#*/}" >&2
fi
echo "$tag"
