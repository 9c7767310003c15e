"""Generator and discriminator networks; each family is selected with ``model=<name>``."""

from ganlab.models.base import Discriminator, Generator
from ganlab.models.biggan import BigGANDiscriminator, BigGANGenerator
from ganlab.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganlab.models.mlp import MLPDiscriminator, MLPGenerator
from ganlab.models.resnet import ResNetDiscriminator, ResNetGenerator
from ganlab.models.stylegan import StyleGANDiscriminator, StyleGANGenerator

__all__ = [
    "BigGANDiscriminator",
    "BigGANGenerator",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Discriminator",
    "Generator",
    "MLPDiscriminator",
    "MLPGenerator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "StyleGANDiscriminator",
    "StyleGANGenerator",
]
