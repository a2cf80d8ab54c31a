"""The course's reference models: what later notebooks import after earlier ones built them."""

from genaug.models.classifier import ClassifierConfig, SmallCNN

__all__ = ["ClassifierConfig", "SmallCNN"]
