#!/usr/bin/env bash
# Ship this deploy version: import the best (or a given) MLflow run into BentoML, build the
# Bento, containerize it and push it to AWS ECR; print the image URI and digest.
#
#   ./ecr.sh [--backend docker|podman] [--ecr-name NAME] [--region R] [--tag T]
#            [--run-id ID] [--branch development|production]
#
# One implementation serves every deploy: mlrepo/ship/ecr.sh (its environment and exit codes).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$BASH" "$here/../../../mlrepo/ship/ecr.sh" "$here" "$@"
