"""Self-checks for the exercise notebooks: run the learner's function on cases with known answers.

Each ``check_*`` function prints one line per thing that is right and ends with "All checks
passed"; at the first problem it raises :class:`CheckFailed`, whose message says in words what
is wrong and where to look. Jupyter shows that message alone, not a traceback. A function that
is still a stub (it raises ``NotImplementedError``) gives :class:`NotDoneYet` instead.

One module per exercise, in course order; ``common`` holds what they share. The last check of
each exercise is its stretch task's, for learners who finish early.
"""

from genaug.checks.augmentation import check_mixup, check_random_flip, check_square_erase
from genaug.checks.cgan import check_one_hot_input, check_projection, check_truncated_noise
from genaug.checks.common import CheckFailed, NotDoneYet
from genaug.checks.cvae import check_class_mix, check_slerp, check_style_grid
from genaug.checks.diffusion import check_add_noise, check_cosine_path, check_flow_matching_loss
from genaug.checks.experiment_design import (
    DESIGN_STEPS,
    check_holm,
    check_paired_gain,
    check_unfair_steps,
)
from genaug.checks.frechet import check_feature_stats, check_frechet, check_noise_floor
from genaug.checks.gan import check_gan_losses, check_hinge_losses, check_train_step
from genaug.checks.vae import check_kl, check_kl_to_prior, check_negative_elbo, check_reparameterize

__all__ = [
    "CheckFailed",
    "NotDoneYet",
    "check_random_flip",  # 01
    "check_square_erase",
    "check_mixup",
    "check_reparameterize",  # 02
    "check_kl",
    "check_negative_elbo",
    "check_kl_to_prior",
    "check_class_mix",  # 03
    "check_style_grid",
    "check_slerp",
    "check_gan_losses",  # 04
    "check_train_step",
    "check_hinge_losses",
    "check_one_hot_input",  # 05
    "check_projection",
    "check_truncated_noise",
    "check_feature_stats",  # 06
    "check_frechet",
    "check_noise_floor",
    "DESIGN_STEPS",  # 07
    "check_paired_gain",
    "check_unfair_steps",
    "check_holm",
    "check_add_noise", "check_flow_matching_loss", "check_cosine_path",  # 08
]
