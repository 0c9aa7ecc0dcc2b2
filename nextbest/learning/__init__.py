"""Self-learning propensity models: the ADM-class model, its bank, and a Beta baseline."""

from nextbest.config.compiled import CompiledConfig
from nextbest.learning.adm import AdmModel
from nextbest.learning.bank import RESERVOIR_SUFFIX, AdmModels, model_features, predictor_kinds
from nextbest.learning.base import Model, PropensityModels
from nextbest.learning.beta import BetaBernoulliModels, model_id
from nextbest.learning.uniform import UniformPropensities, in_control_group

__all__ = [
    "RESERVOIR_SUFFIX",
    "AdmModel",
    "AdmModels",
    "BetaBernoulliModels",
    "Model",
    "PropensityModels",
    "UniformPropensities",
    "in_control_group",
    "model_features",
    "model_id",
    "models_for",
    "predictor_kinds",
]


def models_for(config: CompiledConfig) -> PropensityModels:
    """The model bank a configuration asks for (`learning.model`)."""
    if config.learning.model == "beta":
        return BetaBernoulliModels()
    return AdmModels.from_config(config)
