"""One History shape for every training loop (both frameworks, every driver)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")


@dataclass
class History:
    """Per-epoch metrics; every list has one entry per *completed* epoch."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped_early: bool = False
    interrupted: bool = False

    def append(self, **metrics: float) -> None:
        """Record one finished epoch; every key must be given, so lists stay aligned."""
        missing = set(KEYS) - set(metrics)
        if missing:
            raise ValueError(f"epoch metrics missing: {sorted(missing)}")
        for key in KEYS:
            getattr(self, key).append(float(metrics[key]))

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def last(self) -> dict[str, float]:
        return {key: getattr(self, key)[-1] for key in KEYS} if self.epochs else {}

    def line(self, total: int | None = None) -> str:
        """The one line both frameworks print after each epoch."""
        m = self.last()
        of = f"/{total}" if total else ""
        return (f"epoch {self.epochs}{of}: loss {m['loss']:.4f} acc {m['accuracy']:.4f} "
                f"val_loss {m['val_loss']:.4f} val_acc {m['val_accuracy']:.4f} "
                f"lr {m['lr']:.2e} ({m['seconds']:.1f} s)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
