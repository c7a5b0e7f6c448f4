#!/usr/bin/env bash
# Ship a deploy version: import the best (or a given) MLflow run into BentoML, build the Bento,
# containerize it and push it to AWS ECR; print the image URI and digest.
#
#   deploy/<Model>/V<n>/ecr.sh [--backend docker|podman] [--ecr-name NAME] [--region R] [--tag T]
#                              [--run-id ID] [--branch development|production]
#
# Environment: AWS credentials as the aws CLI reads them; AWS_REGION / AWS_DEFAULT_REGION;
# AWS_ENDPOINT_URL (a test ECR API, passed to aws as --endpoint-url); ECR_REGISTRY (push to this
# registry host instead of <account>.dkr.ecr.<region>.amazonaws.com); BENTOML_HOME; PYTHON.
# Exit codes: 0 pushed, 1 a failed step, 2 a mistake in the command or a missing tool,
# credential or model. The registry password goes through a pipe only: it is never printed.
# The one implementation behind every deploy/<Model>/V<n>/ecr.sh, which calls it as
#   mlrepo/ship/ecr.sh <deploy folder> [flags...]
# The default --ecr-name is the deploy's MODEL_NAME (common.py) with '-' for '_'.
set -euo pipefail

HERE="$(cd "${1:?usage: mlrepo/ship/ecr.sh <deploy folder> [flags]}" && pwd)"
shift
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BASE_IMAGE="localbase:bookworm"

backend="docker"
ecr_name=""
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
tag=""
run_id=""
branch="development"

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "ecr.sh: $1" >&2; exit "${2:-2}"; }
step() { echo "ecr.sh: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --backend) backend="${2:-}"; shift 2 ;;
        --ecr-name) ecr_name="${2:-}"; shift 2 ;;
        --region) region="${2:-}"; shift 2 ;;
        --tag) tag="${2:-}"; shift 2 ;;
        --run-id) run_id="${2:-}"; shift 2 ;;
        --branch) branch="${2:-}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'." ;;
    esac
done

# --- check everything that can be missing before doing any work --------------------------------
case "$backend" in
    docker|podman) ;;
    *) die "--backend must be docker or podman, not '$backend'." ;;
esac
command -v "$backend" >/dev/null 2>&1 \
    || die "the container backend '$backend' is not installed. Install it (podman: scripts/install-podman.sh) or choose the other one with --backend."
if [ -z "$ecr_name" ]; then
    ecr_name="$(sed -n 's/^MODEL_NAME = "\(.*\)"$/\1/p' "$HERE/common.py" | tr _ -)"
fi
[[ "$ecr_name" =~ ^[a-z0-9]+([._/-][a-z0-9]+)*$ ]] \
    || die "--ecr-name '$ecr_name' is not a valid repository name (lowercase letters, digits, . _ - /)."

# Debian's awscli is /usr/bin/aws; a pyenv shim named aws may come first on PATH.
aws_cli="${AWS_CLI:-}"
if [ -z "$aws_cli" ]; then
    if [ -x /usr/bin/aws ]; then aws_cli=/usr/bin/aws; else aws_cli="$(command -v aws || true)"; fi
fi
{ [ -n "$aws_cli" ] && "$aws_cli" --version >/dev/null 2>&1; } \
    || die "the aws CLI is missing (no working 'aws'). Install it (Debian: apt-get install awscli; scripts/install-podman.sh does) or set AWS_CLI to its path."
[ -n "$region" ] || die "no AWS region: pass --region or set AWS_REGION."
aws_args=(--region "$region")
if [ -n "${AWS_ENDPOINT_URL:-}" ]; then aws_args+=(--endpoint-url "$AWS_ENDPOINT_URL"); fi

python="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$python" ] || die "no Python environment at $python: run 'make init' first (or set PYTHON)."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Only the account id is kept from the identity; errors from aws never contain the secret.
if ! account="$("$aws_cli" "${aws_args[@]}" sts get-caller-identity --query Account --output text 2>"$work/aws.err")"; then
    die "AWS credentials are missing or rejected ($(head -c 300 "$work/aws.err" | tr '\n' ' ')). Configure them (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)."
fi
registry="${ECR_REGISTRY:-$account.dkr.ecr.$region.amazonaws.com}"

# --- the model and the Bento --------------------------------------------------------------------
step "importing the run into the BentoML model store"
"$python" "$HERE/create_bento_model.py" --branch "$branch" --output-env "$work/model.env" \
    ${run_id:+--run-id "$run_id"} >&2 || die "no model to ship (see the message above)."
RUN_ID="" MODEL_TAG="" PIPELINE=""
# shellcheck source=/dev/null
. "$work/model.env"

step "building the Bento"
# The Bento is built from a staging folder: the deploy's files and the serving machinery.
mkdir -p "$work/src/mlrepo/ship"
cp -R "$HERE"/. "$work/src"
cp "$ROOT/mlrepo/__init__.py" "$work/src/mlrepo/"
cp "$ROOT/mlrepo/ship/__init__.py" "$ROOT/mlrepo/ship/records.py" "$ROOT/mlrepo/ship/serving.py" "$work/src/mlrepo/ship/"
bento_tag="$(cd "$work/src" && "$python" -m bentoml build -o tag . 2>"$work/build.err" | sed -n 's/^__tag__://p')" || true
[ -n "$bento_tag" ] || { cat "$work/build.err" >&2; die "bentoml build failed." 1; }
tag="${tag:-${bento_tag#*:}}"
image="$registry/$ecr_name:$tag"
"$python" -m bentoml export "$bento_tag" "$work/bento.bento" >/dev/null
mkdir "$work/context"
tar -C "$work/context" -xf "$work/bento.bento"

# --- the image ----------------------------------------------------------------------------------
CONTAINER_BACKEND="$backend" bash "$ROOT/scripts/base-image.sh" "$BASE_IMAGE" >&2
build_args=(--network host -f env/docker/Dockerfile -t "$image"
    --label "org.opencontainers.image.title=$ecr_name"
    --label "org.opencontainers.image.version=$bento_tag"
    --label "org.opencontainers.image.revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
    --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    --label "mlflow.run_id=$RUN_ID" --label "bentoml.bento_tag=$bento_tag" --label "bentoml.model_tag=$MODEL_TAG")
if [ "$backend" = podman ]; then
    # Behind a TLS-inspecting proxy, uv in the build must trust the host's CA bundle; a uv cache
    # shared between builds saves the downloads. Both are build-time mounts, not image layers.
    cache="${UV_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlrepo/uv-build}"
    mkdir -p "$cache"
    build_args+=(-v "$cache:/root/.cache/uv")
    bundle="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
    if [ -f "$bundle" ]; then
        printf 'native-tls = true\n' >"$work/uv.toml"
        build_args+=(-v "$bundle:/etc/ssl/certs/ca-certificates.crt:ro" -v "$work/uv.toml:/etc/uv/uv.toml:ro")
    fi
fi
step "building $image with $backend"
(cd "$work/context" && "$backend" build "${build_args[@]}" . >"$work/image.log" 2>&1) \
    || { tail -30 "$work/image.log" >&2; die "$backend build failed." 1; }

# --- push ---------------------------------------------------------------------------------------
tls=()
if [ "$backend" = podman ] && [[ "$registry" =~ ^(localhost|127\.0\.0\.1)(:[0-9]+)?$ ]]; then
    tls=(--tls-verify=false)  # a local test registry speaks plain HTTP
fi
repo_name="$ecr_name"
if ! "$aws_cli" "${aws_args[@]}" ecr describe-repositories --repository-names "$repo_name" >/dev/null 2>&1; then
    step "creating the ECR repository $repo_name"
    "$aws_cli" "${aws_args[@]}" ecr create-repository --repository-name "$repo_name" >/dev/null \
        || die "could not create the ECR repository '$repo_name'." 1
fi
step "logging in to $registry"
"$aws_cli" "${aws_args[@]}" ecr get-login-password \
    | "$backend" login "${tls[@]}" --username AWS --password-stdin "$registry" >/dev/null 2>"$work/login.err" \
    || { cat "$work/login.err" >&2; die "login to $registry failed." 1; }
step "pushing $image"
if [ "$backend" = podman ]; then
    podman push "${tls[@]}" --digestfile "$work/digest" "$image" >"$work/push.log" 2>&1 \
        || { tail -20 "$work/push.log" >&2; die "push failed." 1; }
    digest="$(cat "$work/digest")"
else
    docker push "$image" >"$work/push.log" 2>&1 || { tail -20 "$work/push.log" >&2; die "push failed." 1; }
    digest="$(sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p' "$work/push.log" | tail -1)"
fi

"$python" -m mlrepo.ship.deploy tag-run --run-id "$RUN_ID" --pipeline "$PIPELINE" --branch "$branch" \
    "deploy.image_uri=$image" "deploy.image_digest=$digest" "deploy.bento_tag=$bento_tag"
echo "image: $image"
echo "digest: $digest"
