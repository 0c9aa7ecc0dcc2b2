"""Customer profiles: typed traits against the declared schema."""

from nextbest.profile.traits import TraitError, coerce_traits, coerce_value, validate_traits

__all__ = ["TraitError", "coerce_traits", "coerce_value", "validate_traits"]
