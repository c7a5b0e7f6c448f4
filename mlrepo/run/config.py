"""Compose the Hydra config tree in `conf/` and validate a command line before running it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mlrepo import ROOT
from mlrepo.errors import UserError

CONF_DIR = ROOT / "conf"
_PLURAL = {"branch": "super-branches"}


def register_resolvers() -> None:
    """Register the resolvers the config tree uses (`${repo_root:}`); safe to call twice."""
    if not OmegaConf.has_resolver("repo_root"):
        OmegaConf.register_new_resolver("repo_root", lambda: str(ROOT))


def available(group: str, conf_dir: Path = CONF_DIR) -> list[str]:
    """List the options of a config group (`pipeline`, `branch`, ...), sorted.

    Args:
        group: the config group, a folder under `conf/`.
        conf_dir: the config tree.

    Returns:
        The option names, without `.yaml`.
    """
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


def check_choices(overrides: Sequence[str], conf_dir: Path = CONF_DIR) -> None:
    """Fail fast, with the list of options, on an unknown `pipeline=` or `branch=` choice.

    Sweeps (`pipeline=a,b`) are checked value by value.

    Raises:
        UserError: a choice names no config file, or no pipeline is given.
    """
    given: dict[str, str] = {}
    for override in overrides:
        key, sep, value = override.lstrip("+~").partition("=")
        if sep and key in ("pipeline", "branch"):
            given[key] = value
    if "pipeline" not in given:
        raise UserError(
            "No pipeline given. Run `python -m train pipeline=<name>` with one of: "
            + ", ".join(available("pipeline", conf_dir))
            + "."
        )
    for group, value in given.items():
        options = available(group, conf_dir)
        for choice in value.split(","):
            if choice not in options:
                raise UserError(
                    f"Unknown {group} '{choice}': there is no conf/{group}/{choice}.yaml. "
                    f"Available {_PLURAL.get(group, group + 's')}: {', '.join(options)}. "
                    f"Run `python -m train {group}=<name>` with one of them."
                )


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose `conf/config.yaml` with command-line style overrides, as `python -m train` does.

    This is what tests and tools call: the same tree, the same precedence (pipeline, then
    super-branch, then the command line), no Hydra run directory, no change of working dir.

    Args:
        overrides: e.g. `["pipeline=train_iris", "branch=production", "model.C=0.5"]`.

    Returns:
        The composed config, with the `hydra` node removed.

    Raises:
        UserError: an unknown choice or a malformed / unknown override.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    check_choices(overrides)
    register_resolvers()
    from hydra.core.global_hydra import GlobalHydra

    try:
        if GlobalHydra.instance().is_initialized():  # inside a Hydra job: its config tree is this one
            cfg = hydra_compose(config_name="config", overrides=list(overrides))
        else:
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
                cfg = hydra_compose(config_name="config", overrides=list(overrides))
    except HydraException as exc:
        raise UserError(f"Bad config override: {exc}") from None
    with_hydra = OmegaConf.to_container(cfg, resolve=False)
    with_hydra.pop("hydra", None)
    return OmegaConf.create(with_hydra)


def flatten(cfg: DictConfig, skip: Sequence[str] = ("hydra",)) -> dict[str, str]:
    """Flatten a config into `{"a.b.c": "value"}` with resolved values, for MLflow params."""
    container = OmegaConf.to_container(cfg, resolve=True)
    out: dict[str, str] = {}

    def walk(prefix: str, node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if prefix == "" and key in skip:
                    continue
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            out[prefix] = "null" if node is None else str(node)

    walk("", container)
    return out
