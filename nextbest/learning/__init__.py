"""Self-learning propensity models."""

from nextbest.learning.base import PropensityModels
from nextbest.learning.beta import BetaBernoulliModels, model_id

__all__ = ["BetaBernoulliModels", "PropensityModels", "model_id"]
