"""What an hf source declares about its license, and the hub commit it was read at.

The hub itself cannot be reached here, so `HfApi.dataset_info` (the one metadata request) is replaced
by what the hub answers, or by the error an offline machine gets.
"""

from types import SimpleNamespace

import huggingface_hub
import pytest
from huggingface_hub import DatasetCardData

from factory.config import SourceConfig
from factory.stages.sources.licenses import DeclaredLicense, clean, declared_license

HUB = SourceConfig(name="ds", kind="hf", dataset="agentica-org/DeepScaleR-Preview-Dataset", revision="v1")


@pytest.fixture
def hub(monkeypatch):
    asked = []

    def answer(card: dict | None, sha="f" * 40):
        def dataset_info(self, repo_id, *, revision=None, timeout=None, **_):
            asked.append((repo_id, revision))
            return SimpleNamespace(card_data=DatasetCardData(**card) if card is not None else None, sha=sha)
        monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)
        return asked
    return answer


def test_a_hub_dataset_declares_its_card_license_and_commit(hub):
    asked = hub({"license": "mit"})
    assert declared_license(HUB, info_license="") == DeclaredLicense("mit", "f" * 40)
    assert asked == [("agentica-org/DeepScaleR-Preview-Dataset", "v1")]  # the revision the run read


def test_the_dataset_info_license_comes_before_the_card(hub):
    hub({"license": "mit"})
    assert declared_license(HUB, info_license="cc-by-sa-4.0").license == "cc-by-sa-4.0"


def test_a_card_without_license_or_without_card_is_unknown(hub):
    hub({"language": ["en"]})
    assert declared_license(HUB, None) == DeclaredLicense(None, "f" * 40)
    hub(None)
    assert declared_license(HUB, None).license is None


def test_an_unreachable_hub_leaves_the_license_unknown_without_stopping(monkeypatch):
    def offline(self, *args, **kwargs):
        raise huggingface_hub.errors.OfflineModeIsEnabled("Cannot reach the hub: offline mode is enabled.")
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", offline)
    assert declared_license(HUB, None) == DeclaredLicense(None, None)


def test_license_values_are_one_string_or_none():
    assert clean(["mit", " apache-2.0 "]) == "mit, apache-2.0"
    assert clean("  ") is None and clean(None) is None and clean([]) is None
