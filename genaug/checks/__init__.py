"""Self-checks for the exercise notebooks: run the learner's function on cases with known answers.

Each ``check_*`` function prints one line per thing that is right and ends with "All checks
passed"; at the first problem it raises :class:`CheckFailed`, whose message says in words what
is wrong and where to look. Jupyter shows that message alone, not a traceback. A function that
is still a stub (it raises ``NotImplementedError``) gives :class:`NotDoneYet` instead.

One module per exercise, in course order; ``common`` holds what they share.
"""

from genaug.checks.augmentation import check_random_flip, check_square_erase
from genaug.checks.cgan import check_one_hot_input, check_projection
from genaug.checks.common import CheckFailed, NotDoneYet
from genaug.checks.cvae import check_class_mix, check_style_grid
from genaug.checks.diffusion import check_add_noise, check_flow_matching_loss
from genaug.checks.experiment_design import DESIGN_STEPS, check_paired_gain, check_unfair_steps
from genaug.checks.frechet import check_feature_stats, check_frechet
from genaug.checks.gan import check_gan_losses, check_train_step
from genaug.checks.vae import check_kl, check_negative_elbo, check_reparameterize

__all__ = [
    "CheckFailed",
    "NotDoneYet",
    "check_random_flip",  # 01
    "check_square_erase",
    "check_reparameterize",  # 02
    "check_kl",
    "check_negative_elbo",
    "check_class_mix",  # 03
    "check_style_grid",
    "check_gan_losses",  # 04
    "check_train_step",
    "check_one_hot_input",  # 05
    "check_projection",
    "check_feature_stats",  # 06
    "check_frechet",
    "DESIGN_STEPS",  # 07
    "check_paired_gain",
    "check_unfair_steps",
    "check_add_noise", "check_flow_matching_loss",  # 08
]
