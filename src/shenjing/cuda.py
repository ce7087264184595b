"""shenjing runs on the CPU; this module lets device-agnostic code ask (``is_available()`` is False)."""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """No GPU generator to seed; accepted so ``torch.cuda.manual_seed(s)`` lines run."""


manual_seed_all = manual_seed
