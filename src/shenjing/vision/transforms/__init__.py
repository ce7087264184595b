"""Image transforms with torchvision's names; ``functional`` holds the same operations as functions.

>>> from shenjing.vision import transforms
>>> to_course_input = transforms.Compose([
...     transforms.Resize(32), transforms.Grayscale(3), transforms.ToTensor(),
...     transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
"""

from shenjing.vision.transforms import functional  # noqa: F401
from shenjing.vision.transforms.functional import InterpolationMode
from shenjing.vision.transforms.transforms import (
    CenterCrop, Compose, Grayscale, Lambda, Normalize, Pad, PILToTensor, RandomAffine, RandomCrop,
    RandomHorizontalFlip, RandomRotation, RandomVerticalFlip, Resize, ToPILImage, ToTensor)
from shenjing.vision.transforms.augment import (
    ColorJitter, ConvertImageDtype, FiveCrop, GaussianBlur, LinearTransformation, RandomAdjustSharpness, RandomApply,
    RandomAutocontrast, RandomChoice, RandomEqualize, RandomErasing, RandomGrayscale, RandomInvert, RandomOrder,
    RandomPosterize, RandomResizedCrop, RandomSolarize, TenCrop)
from shenjing.vision.transforms.autoaugment import (
    AugMix, AutoAugment, AutoAugmentPolicy, RandAugment, TrivialAugmentWide)
from shenjing.vision.transforms.warps import ElasticTransform, RandomPerspective

__all__ = ["Compose", "ToTensor", "PILToTensor", "ToPILImage", "Normalize", "Lambda", "Pad", "Resize",
           "CenterCrop", "RandomCrop", "RandomRotation", "RandomAffine", "RandomHorizontalFlip",
           "RandomVerticalFlip", "Grayscale", "InterpolationMode", "functional", "ColorJitter", "ConvertImageDtype",
           "FiveCrop", "GaussianBlur", "LinearTransformation", "RandomAdjustSharpness", "RandomApply",
           "RandomAutocontrast", "RandomChoice", "RandomEqualize", "RandomErasing", "RandomGrayscale", "RandomInvert",
           "RandomOrder", "RandomPosterize", "RandomResizedCrop", "RandomSolarize", "TenCrop", "AugMix", "AutoAugment",
           "AutoAugmentPolicy", "RandAugment", "TrivialAugmentWide", "ElasticTransform", "RandomPerspective"]
