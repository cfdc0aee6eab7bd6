"""The license an HF dataset declares about itself, and the hub commit it was read at.

A dataset declares its license in its info (`DatasetInfo.license`, which `save_to_disk` keeps) or, far
more often, in its card's YAML (`license: mit` in README.md). A local directory's card is read from
disk; a hub dataset's comes with one metadata request, which also says the commit the revision points
at. Nothing here can stop a run: a license nobody declared is recorded as unknown (null).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from factory.config import SourceConfig


@dataclass(frozen=True)
class DeclaredLicense:
    license: str | None = None
    commit: str | None = None


def clean(value) -> str | None:
    """A license value as one string: a card may list several; empty means none declared."""
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v).strip() for v in value if str(v).strip())
    text = str(value).strip() if value is not None else ""
    return text or None


def _card_license(readme: Path) -> str | None:
    from huggingface_hub import DatasetCard

    try:
        return clean(DatasetCard.load(readme).data.get("license"))
    except Exception:  # a card whose YAML `datasets` itself read past; its license stays unknown
        return None


def _hub(cfg: SourceConfig) -> DeclaredLicense:
    from huggingface_hub import HfApi

    try:
        info = HfApi().dataset_info(cfg.dataset, revision=cfg.revision, timeout=10)
    except Exception:  # offline mode, or a hub that does not answer now: unknown, not an error
        return DeclaredLicense()
    card = info.card_data
    return DeclaredLicense(license=clean(card.get("license") if card else None), commit=info.sha)


def declared_license(cfg: SourceConfig, info_license: str | None) -> DeclaredLicense:
    """What an hf source declares: its info's license, else its card's; the hub commit for hub datasets."""
    local = Path(cfg.dataset)
    if local.is_dir():
        readme = local / "README.md"
        return DeclaredLicense(clean(info_license) or (_card_license(readme) if readme.is_file() else None))
    hub = _hub(cfg)
    return DeclaredLicense(clean(info_license) or hub.license, hub.commit)
